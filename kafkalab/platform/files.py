"""The supervisor's files: what the CLI wants (`desired.json`), what the supervisor sees
(`status.json`), its pid file and the logs.

Both the supervisor and everything that steers it (up, scale, chaos, the autoscaler) read and
write these, so they live here rather than in the supervisor: the autoscaler, a thread of the
supervisor, would otherwise import the module that imports it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.processes import read_pid
from kafkalab.settings import Settings


def platform_dir(settings: Settings) -> Path:
    return settings.data_dir / "platform"


def desired_file(settings: Settings) -> Path:
    return platform_dir(settings) / "desired.json"


def status_file(settings: Settings) -> Path:
    return platform_dir(settings) / "status.json"


def pid_file(settings: Settings) -> Path:
    return platform_dir(settings) / "supervisor.pid"


def console_status_file(settings: Settings) -> Path:
    """The web console's ReplicaStatus (kept apart from status.json: it is no service)."""
    return platform_dir(settings) / "console.json"


def supervisor_log(settings: Settings) -> Path:
    return settings.data_dir / "logs" / "supervisor.log"


def log_file(settings: Settings, name: str, replica: int) -> Path:
    return settings.data_dir / "logs" / f"{name}-{replica}.log"


@dataclass
class ReplicaStatus:
    service: str
    replica: int
    port: int
    pid: int | None = None
    state: str = "starting"  # running | backoff | stopped
    restarts: int = 0
    started_at: float | None = None
    last_exit: int | None = None
    log: str = ""


@dataclass
class PlatformStatus:
    supervisor_pid: int | None
    replicas: list[ReplicaStatus] = field(default_factory=list)


def read_desired(settings: Settings) -> dict[str, int]:
    try:
        raw = json.loads(desired_file(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {name: int(raw.get(name, 0)) for name in (*SERVICES, *LEARNER_SERVICES)}


def write_json(path: Path, value: object) -> None:
    """Atomic write: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temp name per process and thread: the CLI and the autoscaler may write at once.
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value, indent=2))
    tmp.replace(path)


def read_console_status(settings: Settings) -> ReplicaStatus | None:
    """The supervised console as the supervisor last saw it; None when no supervisor runs it."""
    if not read_pid(pid_file(settings)):
        return None
    try:
        return ReplicaStatus(**json.loads(console_status_file(settings).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def read_status(settings: Settings) -> PlatformStatus:
    supervisor = read_pid(pid_file(settings))
    try:
        raw = json.loads(status_file(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        raw = []
    replicas = [ReplicaStatus(**item) for item in raw] if supervisor else []
    return PlatformStatus(supervisor, replicas)
