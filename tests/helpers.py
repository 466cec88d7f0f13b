"""Small helpers shared by the test tiers (no fixtures here: see the conftest files)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from kafkalab.connection import Connection

NOWHERE = Connection("127.0.0.1:9", "http://127.0.0.1:9")
"""A connection to nothing, for unit tests whose clients are built but never reach Kafka."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(size: int) -> int:
    """The first of `size` consecutive free loopback ports, below the ephemeral range.

    Ports the kernel hands to outgoing connections (32768+) are avoided: a client reconnecting
    to a stopped broker can be given the broker's own port and block its restart.
    """
    rng = random.Random()
    low, high = _port_range()
    for _ in range(200):
        base = rng.randrange(low, high - size)
        if all(_is_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _port_range() -> tuple[int, int]:
    """20000–32000, split between pytest-xdist workers so two never pick the same block."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    span = 12000 // max(count, 1)
    low = 20000 + span * (int(worker) % max(count, 1)) if worker.isdigit() else 20000
    return low, low + span


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliRun:
    """Run `kafkalab ARGS` in this process, through the real console edge (`execute`, which
    the console script wraps in `sys.exit`), with what a new process would be given.

    That is: stdout and stderr of its own (and an empty stdin), COLUMNS=200, `env` and no
    other KAFKALAB_* variable, `cwd`, fresh consoles (their width and colours are settled when
    they are made), and warnings logged on stderr (as Python's last-resort handler prints them
    in a process that configured no logging). All of it is put back afterwards. A test that
    needs a process of its own (signals, start-up) uses `run_entry_point`.
    """
    from kafkalab import ui
    from kafkalab.cli.main import execute

    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KAFKALAB_")}
    overrides.update({"COLUMNS": "200", **(env or {})})
    root = logging.getLogger()
    with ExitStack() as stack:
        streams = stack.enter_context(_runner().isolation(env=overrides))
        stdout, stderr = streams[0], streams[1]
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        for name, console in (("out", ui.console()), ("err", ui.console(stderr=True))):
            stack.enter_context(mock.patch.object(ui, name, console))
        last_resort = logging.StreamHandler(sys.stderr)
        last_resort.setLevel(logging.WARNING)
        root.addHandler(last_resort)
        stack.callback(root.removeHandler, last_resort)
        try:
            code = execute(list(args))
        except SystemExit as exc:  # as the interpreter turns it into a status
            code = _exit_status(exc.code)
        sys.stdout.flush()
        sys.stderr.flush()
        return CliRun(code, _text(stdout.getvalue()), _text(stderr.getvalue()))


def _runner() -> Any:
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2 mixes them
    except TypeError:
        return CliRunner()  # newer click (and the copy typer now ships): always separate


def _exit_status(code: object) -> int:
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def _text(captured: bytes) -> str:
    """Bytes read back as a text-mode pipe would give them (universal newlines)."""
    return captured.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def entry_point() -> str:
    """The installed `kafkalab` console script, beside this interpreter (.venv/bin/)."""
    script = Path(sys.executable).with_name("kafkalab")
    found = str(script) if script.exists() else shutil.which("kafkalab")
    assert found, f"no kafkalab console script beside {sys.executable} or on PATH"
    return found


def run_entry_point(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, module: bool = False
) -> CliRun:
    """Run the installed `kafkalab` console script (or `python -m kafkalab` with module=True)
    in a process of its own, as a user would. Slow (interpreter start-up and imports, about
    1.5 s): for the few tests that prove the entry point itself; the others use `run_cli`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}
    command = [sys.executable, "-m", "kafkalab"] if module else [entry_point()]
    proc = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env={**base, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
