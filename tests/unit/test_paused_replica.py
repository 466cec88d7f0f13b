"""A replica stopped by SIGSTOP (`kafkalab chaos pause`) is seen as paused: `ps` says so, and
waiting for the platform's health does not wait for it (it would never answer) but says how to
wake it, so a load or a lesson can run beside a paused consumer."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from kafkalab import processes
from kafkalab.platform import control, files
from kafkalab.settings import Settings, load_settings


@pytest.fixture
def stopped_child() -> Iterator[int]:
    child = subprocess.Popen(["sleep", "60"])
    os.kill(child.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 5
        while not processes.is_paused(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield child.pid
    finally:
        child.kill()
        child.wait(5)


def _platform_with(tmp_path: Path, pid: int) -> Settings:
    """A data dir whose supervisor (this test process) reports notification-0 as `pid`."""
    settings = load_settings(data_dir=tmp_path)
    files.platform_dir(settings).mkdir(parents=True)
    files.pid_file(settings).write_text(f"{os.getpid()}\n")
    row = files.ReplicaStatus("notification", 0, port=1, pid=pid, state="running")
    files.write_json(files.status_file(settings), [asdict(row)])
    return settings


def test_a_stopped_process_is_paused_and_a_continued_one_is_not(stopped_child: int) -> None:
    assert processes.is_paused(stopped_child)
    os.kill(stopped_child, signal.SIGCONT)
    time.sleep(0.2)
    assert not processes.is_paused(stopped_child)
    assert not processes.is_paused(os.getpid())


def test_waiting_skips_a_paused_replica_and_says_how_to_resume_it(
    tmp_path: Path, stopped_child: int
) -> None:
    settings = _platform_with(tmp_path, stopped_child)
    said: list[str] = []
    started = time.monotonic()
    control.wait_ready(settings, {"notification": 1}, timeout=60, notify=said.append)
    assert time.monotonic() - started < 10
    assert len(said) == 1
    assert "notification-0 is paused" in said[0]
    assert "kafkalab chaos resume notification" in said[0]


def test_a_replica_that_never_answers_still_times_out(tmp_path: Path) -> None:
    settings = _platform_with(tmp_path, os.getpid())  # alive, not paused, port 1 answers nothing
    with pytest.raises(control.ServicesNotReady, match="notification-0"):
        control.wait_ready(settings, {"notification": 1}, timeout=1)


def test_ps_shows_the_paused_replica(tmp_path: Path, stopped_child: int) -> None:
    settings = _platform_with(tmp_path, stopped_child)
    [row] = control.ps(settings)
    assert row.health == "paused"


def test_a_pause_woken_elsewhere_ends_the_chaos_watch(stopped_child: int) -> None:
    """`chaos pause` watches for the group's eviction; a SIGCONT from elsewhere (`chaos resume`
    in another terminal, lesson 19's break once the alert fired) ends that wait instead of
    running into its timeout."""
    from kafkalab.chaos import faults, runner

    local = faults.Target("service", "notification")
    assert not runner._woken_elsewhere(local, stopped_child)
    os.kill(stopped_child, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while processes.is_paused(stopped_child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner._woken_elsewhere(local, stopped_child)
    assert not runner._woken_elsewhere(local, 0)  # no pid known: nothing to say
