"""What kafkalab remembers about the local cluster, kept in `<data dir>/cluster.json`.

The file is written when a cluster is formatted and read by every command that needs to know
how many brokers there are. Pid files live beside each node's data so a crash leaves evidence
that `cluster up` can clean (a pid file whose process is gone is stale).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkalab.settings import Settings

STATE_FILE = "cluster.json"


@dataclass(frozen=True)
class ClusterState:
    cluster_id: str
    brokers: int
    kafka_version: str
    secure: bool = False
    """Formatted for secure mode (SASL_SSL only, ACLs): every later command connects that way."""

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir / STATE_FILE

    @classmethod
    def load(cls, settings: Settings) -> ClusterState | None:
        """The formatted cluster under the data dir, or None when there is none yet."""
        try:
            raw = json.loads(cls.path(settings).read_text())
            return cls(**raw)
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def save(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self), indent=2) + "\n")


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file` if that process is still alive; a stale file is removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if pid_alive(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError):
        return True
