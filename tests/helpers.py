"""Small helpers shared by the test tiers (no fixtures here: see the conftest files)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    for _ in range(200):
        base = rng.randrange(20000, 32000 - size)
        if all(_is_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


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
    """Run `python -m kafkalab ARGS` as a user would, through the real console edge."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}
    proc = subprocess.run(
        [sys.executable, "-m", "kafkalab", *args],
        capture_output=True,
        text=True,
        env={**base, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
