"""The user service's own account store: a private JSON-lines file, not a Kafka topic.

Why a file: the salted password hash must outlive a restart (or users could not log in again),
yet it belongs to the user service alone — putting it on `user-events` or `users` would hand
every consumer of those topics (notification, analytics, anyone with read access) a copy of
every hash. So the profile goes to Kafka and the credentials stay here, like a service's own
database. The file is append-only (one JSON object per line, 0600 in a 0700 folder) and guarded
by an exclusive `flock`, so several user replicas on one machine share it safely and agree on
which email was taken first.

Preferences are kept in the same file (a `{"preferences": user_id, "value": {...}}` line per
change, the latest wins), so every replica answers GET /users/{id}/preferences alike.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("kafkalab.user.store")


class DuplicateEmail(Exception):
    """An account with this email already exists."""


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    email: str
    name: str
    phone: str | None
    balance_cents: int
    registered_at: int  # epoch milliseconds
    password_hash: str

    def __repr__(self) -> str:  # keep the hash out of logs and tracebacks
        return f"UserRecord(user_id={self.user_id!r}, email={self.email!r})"


class UserStore:
    """Accounts by email, read from and appended to `path`. Thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        self.path = path
        self._by_email: dict[str, UserRecord] = {}
        self._by_id: dict[str, UserRecord] = {}
        self._preferences: dict[str, dict[str, Any]] = {}
        self._offset = 0
        self._lock = threading.Lock()
        with self._lock, open(self.path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            self._read_new(handle)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_email)

    def add(self, record: UserRecord) -> None:
        """Store `record`; raises DuplicateEmail when its email is taken (by any replica)."""
        line = json.dumps(asdict(record), separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            torn = self._read_new(handle)
            if record.email in self._by_email:
                raise DuplicateEmail(record.email)
            # Under the exclusive lock an unfinished line can only be a crashed writer's: end
            # it, so that our line does not get glued onto it.
            handle.write(("\n" if torn else "").encode() + line.encode())
            handle.flush()
            os.fsync(handle.fileno())
            self._read_new(handle)

    def remove(self, user_id: str, email: str) -> None:
        """Forget an account (a tombstone line): used when its registration events could not be
        published, so that the client can simply try again."""
        line = json.dumps({"deleted": user_id, "email": email}, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line.encode())
            handle.flush()
            os.fsync(handle.fileno())
            self._read_new(handle)

    def by_email(self, email: str) -> UserRecord | None:
        """The account for `email`; re-reads the file first when it is not known yet, so an
        account registered through another replica can log in here."""
        with self._lock:
            found = self._by_email.get(email)
            if found is not None:
                return found
            with open(self.path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                self._read_new(handle)
            return self._by_email.get(email)

    def by_id(self, user_id: str) -> UserRecord | None:
        """The account `user_id`, read from the file first (another replica may have made it)."""
        with self._lock, open(self.path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            self._read_new(handle)
            return self._by_id.get(user_id)

    def preferences(self, user_id: str) -> dict[str, Any] | None:
        """The latest preferences stored for `user_id` (None: never set), as written by
        `update_preferences` — through this replica or another one."""
        with self._lock, open(self.path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            self._read_new(handle)
            return self._preferences.get(user_id)

    def update_preferences(
        self,
        user_id: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any]],
        publish: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Store `change(current)` as the user's preferences and return it.

        Under the exclusive lock, so two changes through two replicas apply one after the
        other; `publish(new)` runs before the line is written and its exception leaves the file
        as it was — the file and the topics never disagree about what the user chose.
        """
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            torn = self._read_new(handle)
            new = change(self._preferences.get(user_id))
            publish(new)
            entry = {"preferences": user_id, "value": new}
            line = json.dumps(entry, separators=(",", ":")) + "\n"
            handle.write(("\n" if torn else "").encode() + line.encode())
            handle.flush()
            os.fsync(handle.fileno())
            self._read_new(handle)
            return new

    def _read_new(self, handle: IO[bytes]) -> bool:
        """Apply the lines appended since the last read (complete lines only); True when an
        unfinished line is left at the end."""
        handle.seek(self._offset)
        data = handle.read()
        end = data.rfind(b"\n") + 1
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw) if raw.strip() else None
            except ValueError:
                log.warning("unreadable line in %s skipped", self.path)
                continue
            if not isinstance(entry, dict):
                continue
            if "deleted" in entry:
                current = self._by_email.get(entry["email"])
                if current is not None and current.user_id == entry["deleted"]:
                    del self._by_email[entry["email"]]
                    self._by_id.pop(current.user_id, None)
            elif "preferences" in entry:
                self._preferences[str(entry["preferences"])] = dict(entry["value"])
            else:
                record = UserRecord(**entry)
                self._by_email[record.email] = record
                self._by_id[record.user_id] = record
        self._offset += end
        return end < len(data)
