"""The Platform page's buttons: a scenario or a chaos fault, run as the very command a user
types (`python -m kafkalab scenario NAME`, `… chaos ACTION SERVICE`) in a child process with
the console's settings, its output kept for the page. Only what `commands()` lists can run."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from kafkalab.catalogue.services import SERVICES
from kafkalab.chaos.faults import ACTIONS
from kafkalab.errors import InvalidChoice
from kafkalab.scenarios import load_all
from kafkalab.settings import Settings, settings_env

KEEP_JOBS = 20


def commands(settings: Settings) -> dict[str, list[str]]:
    """Button label → the kafkalab arguments it runs: every scenario, every fault × service."""
    found = {f"scenario {name}": ["scenario", name] for name in sorted(load_all(settings))}
    for action in ACTIONS:
        for service in SERVICES:
            found[f"chaos {action} {service}"] = ["chaos", action, service]
    return found


@dataclass
class Job:
    id: int
    label: str
    argv: list[str]
    started: float = field(default_factory=time.time)
    output: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def running(self) -> bool:
        return self.exit_code is None


class Jobs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def start(self, label: str) -> Job:
        argv = commands(self.settings).get(label)
        if argv is None:
            raise InvalidChoice(
                f"the console cannot run {label!r}", "pick a button on the Platform page"
            )
        job = Job(next(self._ids), label, argv)
        self.jobs[job.id] = job
        for old in sorted(self.jobs)[:-KEEP_JOBS]:
            del self.jobs[old]
        env = {
            **settings_env(self.settings.model_copy(update={"listen_port": None})),
            "COLUMNS": "110",
            "NO_COLOR": "1",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "kafkalab", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**_base_env(), **env},
            text=True,
            errors="replace",
        )
        threading.Thread(target=_collect, args=(job, proc), daemon=True).start()
        return job


def _collect(job: Job, proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        job.output.append(line.rstrip("\n"))
    job.exit_code = proc.wait()


def _base_env() -> dict[str, str]:
    """PATH, HOME and the like for the child, without KAFKALAB_* (the settings carry those)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}
