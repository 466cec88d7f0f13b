"""Measure each service's start-up time (process start → first `GET /health` 200) and RSS.

A developer's tool, not a test: timings on a shared machine are noisy, so it runs several
rounds and prints medians. It needs a running cluster (`kafkalab cluster up`) and uses the
same settings (`KAFKALAB_*`) as every kafkalab command; it starts the six services itself,
one at a time so no start-up competes with another for the CPU, measures their RSS once all
six are up and idle, then stops them. The broker and registry RSS are added for the stack's
total (the supervisor, a seventh small Python process under `kafkalab up`, is not started).

    PYTHONPATH=. python scripts/measure_services.py --rounds 3

(With PYTHONPATH pointing at another checkout, the same script measures that one's services:
a before/after comparison on one machine, by one method.)
"""

from __future__ import annotations

import argparse
import http.client
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listening(port: int) -> bool:
    """Someone listens on 127.0.0.1:`port` (from /proc/net/tcp, without connecting: a port in
    the ephemeral range would otherwise, now and then, connect to itself and hold the port)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            return True
    return False


def healthy(port: int) -> bool:
    if not listening(port):
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, http.client.HTTPException):
        return False


Started = tuple[subprocess.Popen[bytes], float, float]


def start(settings: Settings, name: str, log_dir: Path) -> Started:
    """Spawn one service; return it with its seconds from spawn to /health 200 and the CPU
    seconds it used until then (robust where other work shares the machine's cores)."""
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
    return process, time.perf_counter() - began, cpu_seconds(process.pid)


def start_retrying(settings: Settings, name: str, log_dir: Path) -> Started:
    """`start`, again when the port was taken: ports in the ephemeral range (a private block
    on a shared machine) are now and then the local end of someone's outgoing connection."""
    for attempt in range(3):
        try:
            return start(settings, name, log_dir)
        except SystemExit:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


Figures = tuple[float, float, float]


def one_round(settings: Settings, log_dir: Path, settle: float) -> dict[str, Figures]:
    """(start-up seconds, start-up CPU seconds, RSS MiB) per service, all six running."""
    running: dict[str, Started] = {}
    try:
        for name in SERVICES:
            running[name] = start_retrying(settings, name, log_dir)
        time.sleep(settle)
        return {name: (took, cpu, rss_mib(p.pid)) for name, (p, took, cpu) in running.items()}
    finally:
        for process, *_ in running.values():
            process.send_signal(signal.SIGTERM)
        for process, *_ in running.values():
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
    print(f"{'':<14}{'start-up s':>22}{'CPU s to ready':>16}{'RSS MiB':>10}")
    print(f"{'service':<14}{'median':>10}{'min':>12}{'median':>16}{'median':>10}")
    total = 0.0
    for name in SERVICES:
        took = [r[name][0] for r in rounds]
        cpu = statistics.median(r[name][1] for r in rounds)
        rss = statistics.median(r[name][2] for r in rounds)
        total += rss
        print(
            f"{name:<14}{statistics.median(took):>10.2f}{min(took):>12.2f}{cpu:>16.2f}{rss:>10.1f}"
        )
    print(f"{'six services':<14}{'':>38}{total:>10.1f}")
    others = {
        "broker-1": settings.data_dir / "broker-1" / "broker.pid",
        "registry": settings.data_dir / "registry" / "registry.pid",
    }
    for label, pid_file in others.items():
        pid = read_pid(pid_file)
        if pid is not None:
            rss = rss_mib(pid)
            total += rss
            print(f"{label:<14}{'':>38}{rss:>10.1f}")
    print(f"{'stack total':<14}{'':>38}{total:>10.1f}")


if __name__ == "__main__":
    main()
