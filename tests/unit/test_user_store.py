"""The user service's private account file: duplicates, tombstones, sharing between replicas."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kafkalab.services.user.store import DuplicateEmail, UserRecord, UserStore


def record(user_id: str, email: str) -> UserRecord:
    return UserRecord(user_id, email, "Ada", None, 100, 1_700_000_000_000, "scrypt$hash")


def test_add_find_and_refuse_a_duplicate_email(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user" / "accounts.jsonl")
    store.add(record("u1", "ada@example.com"))
    assert store.by_email("ada@example.com") == record("u1", "ada@example.com")
    assert store.by_email("bob@example.com") is None
    with pytest.raises(DuplicateEmail):
        store.add(record("u2", "ada@example.com"))
    assert len(store) == 1


def test_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "user" / "accounts.jsonl"
    UserStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_accounts_survive_a_restart_and_are_seen_by_another_replica(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    first, second = UserStore(path), UserStore(path)
    first.add(record("u1", "ada@example.com"))
    assert second.by_email("ada@example.com") is not None  # re-reads on a miss
    with pytest.raises(DuplicateEmail):
        second.add(record("u2", "ada@example.com"))  # checked against the file, not memory
    assert UserStore(path).by_email("ada@example.com") == record("u1", "ada@example.com")


def test_remove_frees_the_email(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    store = UserStore(path)
    store.add(record("u1", "ada@example.com"))
    store.remove("u1", "ada@example.com")
    assert store.by_email("ada@example.com") is None
    store.add(record("u2", "ada@example.com"))
    assert UserStore(path).by_email("ada@example.com") == record("u2", "ada@example.com")


def test_a_half_written_last_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    UserStore(path).add(record("u1", "ada@example.com"))
    with open(path, "a") as handle:
        handle.write('{"user_id": "u2", "email": "bo')  # a writer caught mid-line
    store = UserStore(path)
    assert len(store) == 1


def test_the_hash_stays_out_of_repr() -> None:
    assert "scrypt" not in repr(record("u1", "ada@example.com"))


def test_a_line_torn_by_a_crashed_writer_does_not_swallow_the_next_account(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    UserStore(path).add(record("u1", "ada@example.com"))
    with open(path, "a") as handle:
        handle.write('{"user_id": "u2", "email": "bo')
    UserStore(path).add(record("u3", "cy@example.com"))
    store = UserStore(path)
    assert store.by_email("cy@example.com") == record("u3", "cy@example.com")
    assert store.by_email("ada@example.com") is not None and len(store) == 2
