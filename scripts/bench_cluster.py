"""Benchmark (not a test): how fast kafkalab's cluster starts, how much memory it takes, and the
raw produce → consume throughput of the broker with confluent-kafka.

Runs on its own data dir and ports, so a learner's cluster is untouched. Prints figures only;
nothing here asserts on time.

    .venv/bin/python scripts/bench_cluster.py [--messages 100000] [--size 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafkalab.cluster import lifecycle, provision
from kafkalab.load import baseline
from kafkalab.settings import Settings, load_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import free_port_block  # noqa: E402


def cli(settings: Settings, *args: str) -> float:
    """Seconds a `kafkalab …` command takes, as a user runs it (Python start-up included)."""
    env = {
        **os.environ,
        "KAFKALAB_DATA_DIR": str(settings.data_dir),
        "KAFKALAB_BROKER_PORT": str(settings.broker_port),
        "KAFKALAB_CONTROLLER_PORT": str(settings.controller_port),
        "KAFKALAB_REGISTRY_PORT": str(settings.registry_port),
        "KAFKALAB_SECURE_PORT": str(settings.secure_port),
        "KAFKALAB_BROKER_METRICS_PORT": str(settings.broker_metrics_port),
    }
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "kafkalab", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(settings: Settings) -> tuple[float, float]:
    status = lifecycle.status(settings)
    broker = sum(rss_mib(b.pid) for b in status.brokers)
    registry = rss_mib(status.registry.pid if status.registry else None)
    return broker, registry


def throughput(settings: Settings, messages: int, size: int) -> float:
    """Raw produce→consume msgs/s: the same measurement `kafkalab load --baseline` makes."""
    return baseline.measure(settings, messages, size, pipeline_events_per_s=0.0).msgs_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=200)
    args = parser.parse_args()

    base = free_port_block(5)
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-") as data:
        settings = load_settings(
            data_dir=Path(data),
            broker_port=base,
            controller_port=base + 1,
            registry_port=base + 2,
            secure_port=base + 3,
            broker_metrics_port=base + 4,
        )
        provision.ensure_jars(settings)
        first = cli(settings, "cluster", "up")  # formats storage, then starts
        warm = cli(settings, "cluster", "up")  # already running: a no-op
        cli(settings, "cluster", "down")
        cold = cli(settings, "cluster", "up")  # formatted data, nothing running
        broker_idle, registry_idle = memory(settings)
        raw = throughput(settings, args.messages, args.size)
        broker_busy, registry_busy = memory(settings)
        cli(settings, "cluster", "down")

    print(f"kafka {provision.KAFKA_VERSION}, {os.cpu_count()} cores, heap {settings.heap}")
    print(f"first `cluster up` (format + start, jars cached): {first:6.2f} s")
    print(f"cold  `cluster up` (formatted, nothing running):  {cold:6.2f} s")
    print(f"warm  `cluster up` (already running):             {warm:6.2f} s")
    print(
        f"memory after start:  broker {broker_idle:5.0f} MiB + registry {registry_idle:4.0f} MiB"
        f" = {broker_idle + registry_idle:5.0f} MiB RSS"
    )
    print(
        f"memory after load:   broker {broker_busy:5.0f} MiB + registry {registry_busy:4.0f} MiB"
        f" = {broker_busy + registry_busy:5.0f} MiB RSS"
    )
    print(
        f"raw throughput, {args.messages:,} x {args.size} B, 6 partitions, idempotent acks=all: "
        f"produce→consume {raw:10,.0f} msgs/s"
    )


if __name__ == "__main__":
    main()
