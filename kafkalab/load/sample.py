"""Background samples taken while a load runs: consumer lag per group (for the live display and
the peak), and CPU seconds per process (to show which service saturates a core)."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from kafkalab.catalogue.services import SERVICES, group_id
from kafkalab.cluster import lifecycle
from kafkalab.connection import Connection
from kafkalab.observe.lag import group_lag
from kafkalab.platform import files
from kafkalab.settings import Settings

log = logging.getLogger(__name__)

GROUPS = tuple(group_id(name) for name in SERVICES if name != "user")
"""The user service consumes nothing: it has no group and no lag."""


class LagSampler:
    """Samples every group's total lag each `interval` seconds; keeps the latest and the peak."""

    def __init__(self, conn: Connection, interval: float = 1.0) -> None:
        self.conn = conn
        self.interval = interval
        self.latest: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(15)

    def sample(self) -> dict[str, int]:
        """Take one sample now (also what the thread does) and return it."""
        try:
            lags = {g.group: g.total for g in group_lag(self.conn, list(GROUPS), timeout=5)}
        except Exception as exc:  # noqa: BLE001 - a missed sample is not worth stopping a load
            log.debug("lag sample failed: %s", exc)
            return self.snapshot()
        with self._lock:
            self.latest = lags
            for group, lag in lags.items():
                self.peak[group] = max(self.peak.get(group, 0), lag)
        return lags

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.latest)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.sample()


@dataclass(frozen=True)
class Process:
    label: str  # a service name, "broker", "registry" or "driver"
    pid: int


def platform_processes(settings: Settings) -> list[Process]:
    """Every process a load run exercises: service replicas, brokers, the registry, us."""
    found = [
        Process(r.service, r.pid) for r in files.read_status(settings).replicas if r.pid is not None
    ]
    if not settings.external:
        try:
            status = lifecycle.status(settings)
        except Exception:  # noqa: BLE001 - CPU figures are a nicety
            status = None
        if status is not None:
            found += [Process("broker", n.pid) for n in status.brokers if n.pid]
            if status.registry is not None and status.registry.pid:
                found.append(Process("registry", status.registry.pid))
    found.append(Process("driver", os.getpid()))
    return found


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` (threads included), or None off Linux / if gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after "pid (comm)": state is field 3, utime 14 and stime 15 (1-based) → 11 and 12 here
    return (int(fields[11]) + int(fields[12])) / _TICKS


def process_age(pid: int) -> float | None:
    """Seconds since `pid` started, or None off Linux / if gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as uptime:
            up = float(uptime.read().split()[0])
    except (OSError, ValueError):
        return None
    # starttime is field 22 (1-based), in clock ticks after boot → 19 here
    return max(up - int(fields[19]) / _TICKS, 0.0)


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat (None off Linux)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class CpuUsage:
    by_label: dict[str, float]
    """Percent of one core per label (service replicas summed)."""
    cores: int
    machine_busy_percent: float | None
    """Of all cores: 100 means no idle time was left."""
    others_percent: float | None
    """Percent of one core used by processes that are not in the measured list."""
    broker_age_s: float | None = None
    """How long the youngest broker had been running when the measurement began."""


class CpuMeter:
    """CPU used by each of `processes` and by the whole machine between start and `stop()`."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self.started = time.monotonic()
        self._before = cpu_snapshot(processes)
        self._machine = machine_ticks()
        ages = [process_age(p.pid) for p in processes if p.label == "broker"]
        self.broker_age_s = min((a for a in ages if a is not None), default=None)

    def seconds(self) -> dict[str, float]:
        """CPU seconds per label since the start (replicas summed; a process that restarted
        in between is left out). Callable any number of times, before or after `stop()`."""
        now = cpu_snapshot(self.processes)
        out: dict[str, float] = {}
        for process, start in self._before.items():
            if process in now:
                out[process.label] = out.get(process.label, 0.0) + now[process] - start
        return {label: round(value, 2) for label, value in out.items()}

    def stop(self) -> CpuUsage:
        seconds = time.monotonic() - self.started
        after = cpu_snapshot(self.processes)
        machine = machine_ticks()
        by_label = cpu_percent(self._before, after, seconds)
        cores = os.cpu_count() or 1
        busy = others = None
        if self._machine and machine and machine[1] > self._machine[1]:
            busy_ticks = machine[0] - self._machine[0]
            busy = round(busy_ticks / (machine[1] - self._machine[1]) * 100, 1)
            ours = sum(after[p] - self._before[p] for p in self._before if p in after)
            others = round(max(busy_ticks / _TICKS - ours, 0.0) / seconds * 100, 1)
        return CpuUsage(by_label, cores, busy, others, self.broker_age_s)


def cpu_snapshot(processes: list[Process]) -> dict[Process, float]:
    out = {}
    for process in processes:
        seconds = cpu_seconds(process.pid)
        if seconds is not None:
            out[process] = seconds
    return out


def cpu_percent(
    before: dict[Process, float], after: dict[Process, float], seconds: float
) -> dict[str, float]:
    """Percent of one core per label over `seconds` (replicas of a service add up; a process
    that restarted in between is left out rather than guessed)."""
    out: dict[str, float] = {}
    if seconds <= 0:
        return out
    for process, start in before.items():
        end = after.get(process)
        if end is None:
            continue
        out[process.label] = out.get(process.label, 0.0) + (end - start) / seconds * 100
    return {label: round(value, 1) for label, value in out.items()}
