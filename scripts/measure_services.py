"""Measure each service's start-up time (process start → first `GET /health` 200) and RSS.

A developer's tool, not a test: timings on a shared machine are noisy, so it runs several
rounds and prints medians. It needs a running cluster (`kafkalab cluster up`) and uses the
same settings (`KAFKALAB_*`) as every kafkalab command; it starts the six services itself,
one at a time so no start-up competes with another for the CPU, measures their RSS once all
six are up and idle, then stops them. The broker and registry RSS are added for the stack's
total (the supervisor, a seventh small Python process under `kafkalab up`, is not started).

    PYTHONPATH=. python scripts/measure_services.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kafkalab import clients
from kafkalab.catalogue.services import SERVICES, service_port
from kafkalab.cluster import connect
from kafkalab.events.topics import apply_catalogue
from kafkalab.processes import read_pid
from kafkalab.settings import Settings, load_settings


def rss_mib(pid: int) -> float:
    """Resident set size of `pid` in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def start(settings: Settings, name: str, log_dir: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Spawn one service and return it with its seconds from spawn to /health 200."""
    port = service_port(settings, name)
    log = (log_dir / f"{name}.log").open("ab")
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", f"kafkalab.services.{name}"],
        stdout=log,
        stderr=log,
        env={**os.environ, "KAFKALAB_PRINCIPAL": name},
    )
    deadline = began + 120
    while not healthy(port):
        if process.poll() is not None or time.perf_counter() > deadline:
            raise SystemExit(f"{name} did not become healthy; see {log.name}")
        time.sleep(0.01)
    return process, time.perf_counter() - began


def one_round(settings: Settings, log_dir: Path, settle: float) -> dict[str, tuple[float, float]]:
    """(start-up seconds, RSS MiB) per service, all six running at once."""
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    try:
        for name in SERVICES:
            running[name] = start(settings, name, log_dir)
        time.sleep(settle)
        return {name: (took, rss_mib(p.pid)) for name, (p, took) in running.items()}
    finally:
        for process, _ in running.values():
            process.send_signal(signal.SIGTERM)
        for process, _ in running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before RSS")
    args = parser.parse_args()
    settings = load_settings()
    apply_catalogue(clients.admin(connect.resolve(settings)))
    log_dir = settings.data_dir / "measure"
    log_dir.mkdir(parents=True, exist_ok=True)
    rounds = [one_round(settings, log_dir, args.settle) for _ in range(args.rounds)]
    print(f"{'service':<14}{'start-up s (median)':>20}{'min':>8}{'RSS MiB (median)':>18}")
    total = 0.0
    for name in SERVICES:
        took = [r[name][0] for r in rounds]
        rss = statistics.median(r[name][1] for r in rounds)
        total += rss
        print(f"{name:<14}{statistics.median(took):>20.2f}{min(took):>8.2f}{rss:>18.1f}")
    print(f"{'six services':<14}{'':>28}{total:>18.1f}")
    others = {
        "broker-1": settings.data_dir / "broker-1" / "broker.pid",
        "registry": settings.data_dir / "registry" / "registry.pid",
    }
    for label, pid_file in others.items():
        pid = read_pid(pid_file)
        if pid is not None:
            rss = rss_mib(pid)
            total += rss
            print(f"{label:<14}{'':>28}{rss:>18.1f}")
    print(f"{'stack total':<14}{'':>28}{total:>18.1f}")


if __name__ == "__main__":
    main()
