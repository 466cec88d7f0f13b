"""A Prometheus of a lesson's own: the shop's targets, the learner's rules beside the shipped ones.

Lesson 19's break shows the learner's alert on a real Prometheus (the binary `kafkalab
monitoring up` runs), not on kafkalab's in-process evaluator, while the shop's own Prometheus,
if it runs, keeps its config. This one scrapes what `kafkalab alerts` scrapes, with the same
labels, loads the learner's rule file and `alerts.yml`, scrapes and evaluates every `interval`
seconds, listens on a port the kernel picks, and is stopped (its TSDB deleted) when the block
ends.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from kafkalab import processes
from kafkalab.monitoring import prometheus_api
from kafkalab.monitoring.scrape import prometheus_config
from kafkalab.platform import control, monitoring
from kafkalab.settings import Settings

READY_TIMEOUT = 30.0
RULES_TIMEOUT = 10.0


@dataclass(frozen=True)
class OwnPrometheus:
    url: str
    interval: float
    """Seconds between two scrapes, and between two rule evaluations."""


def _kernel_port(host: str) -> int:
    """A port nothing listens on now: the kafkalab port layout has no slot for a lesson's
    Prometheus, and this one lives only for one run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    settings: Settings, folder: Path, rule_files: Sequence[Path], interval: float = 2.0
) -> Iterator[OwnPrometheus]:
    """Prometheus over the running platform's targets with `rule_files`, ready and with its
    rules loaded; stopped when the block ends. PrometheusNotInstalled
    when there is no binary, PrometheusStartFailed when it does not come up."""
    program = monitoring.binary(settings)
    folder.mkdir(parents=True, exist_ok=True)
    port = _kernel_port(settings.host)
    config = prometheus_config(
        settings,
        str(rule_files[0]),
        interval=f"{interval:g}s",
        found=control.scrape_targets(settings),
    )
    config["rule_files"] = [str(f) for f in rule_files]
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    pid_file, log = folder / "prometheus.pid", folder / "prometheus.log"
    processes.stop(pid_file, timeout=10)  # one a killed run left behind
    data = folder / "data"
    shutil.rmtree(data, ignore_errors=True)
    proc = processes.spawn(
        [
            program,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={settings.host}:{port}",
        ],
        pid_file,
        log,
    )
    url = f"http://{settings.host}:{port}"
    try:
        _wait_ready(url, proc.pid, log)
        _rules_loaded(url)
        yield OwnPrometheus(url, interval)
    finally:
        processes.stop(pid_file, timeout=10)
        shutil.rmtree(data, ignore_errors=True)


def _wait_ready(url: str, pid: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not processes.pid_alive(pid):
            raise monitoring.PrometheusStartFailed(
                f"the lesson's Prometheus exited at start ({log})"
            )
        if prometheus_api.ready(url):
            return
        time.sleep(0.2)
    raise monitoring.PrometheusStartFailed(
        f"the lesson's Prometheus did not answer {url}/-/ready within {READY_TIMEOUT:.0f} s ({log})"
    )


def _rules_loaded(url: str) -> None:
    """Until the server lists the rules it loaded (at most RULES_TIMEOUT); their first
    evaluation is not awaited: what the lesson watches for comes later anyway."""
    deadline = time.monotonic() + RULES_TIMEOUT
    while time.monotonic() < deadline:
        if prometheus_api.loaded_rules(url):
            return
        time.sleep(0.2)
    raise monitoring.PrometheusStartFailed(
        f"the lesson's Prometheus at {url} lists no rules after {RULES_TIMEOUT:g} s"
    )
