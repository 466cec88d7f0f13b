"""Start and stop background processes tracked by pid files.

Brokers, the registry, the supervisor and the services all run detached in their own session,
so a Ctrl-C in the terminal that started them does not kill them, and `stop` is the only way
down. Pid files live beside each process's data so a crash leaves evidence that the next start
can clean (a pid file whose process is gone is stale).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def spawn(
    cmd: list[str], pid_file: Path, log_file: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Run `cmd` detached with stdout+stderr appended to `log_file`; record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def stop(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after `timeout`; True if something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    signal_pids([pid], signal.SIGTERM)
    wait_gone([pid], timeout)
    if pid_alive(pid):
        signal_pids([pid], signal.SIGKILL)
        wait_gone([pid], 5.0)
    pid_file.unlink(missing_ok=True)
    return True


def is_paused(pid: int) -> bool:
    """True when `pid` is stopped by a signal (SIGSTOP, `kafkalab chaos pause`): alive, but it
    will answer nothing until SIGCONT. Read from /proc; False where there is none."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] in ("T", "t")
    except (OSError, IndexError):
        return False


def signal_pids(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until every pid has exited; reap our own children so they do not linger as zombies."""
    deadline = time.monotonic() + timeout
    while True:
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        if not any(pid_alive(pid) for pid in pids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


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
