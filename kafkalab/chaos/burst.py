"""A gateway outage for the payment service's circuit breaker: inject it, then watch the breaker.

The burst is injected over HTTP (POST /chaos/gateway) into every payment replica running now —
each has its own gateway client and its own breaker, as separate processes would. The breaker
is watched through each replica's /health, whose `circuit_history` keeps recent transitions, so
an open → half_open → closed that happens between two polls is still seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kafkalab import localhttp
from kafkalab.chaos.faults import NothingRunning
from kafkalab.errors import InvalidChoice
from kafkalab.platform import files
from kafkalab.settings import Settings

Notify = Callable[[str], None]
POLL = 0.5


@dataclass(frozen=True)
class CircuitChange:
    at: float  # epoch seconds, as the replica recorded it
    replica: int
    before: str
    after: str


@dataclass
class BurstReport:
    seconds: float
    failure_rate: float
    replicas: list[int] = field(default_factory=list)
    changes: list[CircuitChange] = field(default_factory=list)
    final: dict[int, str] = field(default_factory=dict)  # replica → circuit state at the end

    @property
    def opened(self) -> bool:
        return any(c.after == "open" for c in self.changes)

    @property
    def closed_after(self) -> bool:
        """Every breaker that opened has closed again since."""
        return self.opened and all(state == "closed" for state in self.final.values())


def _payment_ports(settings: Settings) -> dict[int, int]:
    rows = files.read_status(settings).replicas
    return {r.replica: r.port for r in rows if r.service == "payment" and r.pid}


def inject(settings: Settings, seconds: float, failure_rate: float = 1.0) -> list[int]:
    """Start the burst on every running payment replica; returns the replicas it reached."""
    if not 0 < seconds <= 3600 or not 0 <= failure_rate <= 1:
        raise InvalidChoice(
            "a failure burst needs 0 < seconds ≤ 3600 and a failure rate between 0 and 1",
            hint="e.g. `kafkalab chaos fail-burst payment --seconds 5 --failure-rate 1`",
        )
    ports = _payment_ports(settings)
    if not ports:
        raise NothingRunning("no payment replica is running")
    reached = []
    for replica, port in sorted(ports.items()):
        try:
            response = localhttp.post(
                f"http://127.0.0.1:{port}/chaos/gateway",
                json={"seconds": seconds, "failure_rate": failure_rate},
                timeout=5,
            )
        except httpx.HTTPError:
            continue  # a replica restarting right now: it simply misses the outage
        if response.status_code == 200:
            reached.append(replica)
    if not reached:
        raise NothingRunning("no payment replica answered POST /chaos/gateway")
    return reached


def circuits(settings: Settings) -> dict[int, dict[str, Any]]:
    """Each running payment replica's /health (circuit, circuit_history, …)."""
    found = {}
    for replica, port in _payment_ports(settings).items():
        try:
            found[replica] = dict(
                localhttp.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
            )
        except (httpx.HTTPError, ValueError):
            continue
    return found


def changes_since(health: dict[int, dict[str, Any]], since: float) -> list[CircuitChange]:
    """The breaker transitions every replica recorded at or after `since` (epoch s), in time order."""
    found = [
        CircuitChange(float(c["at"]), replica, str(c["from"]), str(c["to"]))
        for replica, body in sorted(health.items())
        for c in body.get("circuit_history", [])
        if float(c["at"]) >= since
    ]
    # A stable sort: two changes of one replica in the same millisecond keep their order.
    return sorted(found, key=lambda c: c.at)


def run(
    settings: Settings,
    seconds: float,
    failure_rate: float = 1.0,
    watch_seconds: float = 30.0,
    notify: Notify | None = None,
) -> BurstReport:
    """Inject, then watch the breakers until each that opened has closed (or `watch_seconds`
    after the burst ends). A breaker only closes through a half-open probe, i.e. on the next
    payment: on an idle platform it stays half-open, and the report says so."""
    say = notify or (lambda _m: None)
    report = BurstReport(seconds, failure_rate)
    since = time.time()
    report.replicas = inject(settings, seconds, failure_rate)
    say(
        f"gateway failing at {failure_rate:.0%} for {seconds:g} s on payment replica(s) "
        f"{', '.join(map(str, report.replicas))}"
    )
    deadline = time.monotonic() + seconds + watch_seconds
    seen = 0
    while True:
        health = circuits(settings)
        report.changes = changes_since(health, since)
        for change in report.changes[seen:]:
            say(f"payment-{change.replica}: circuit {change.before} → {change.after}")
        seen = len(report.changes)
        report.final = {r: str(body.get("circuit")) for r, body in health.items()}
        burst_over = time.time() >= since + seconds
        if burst_over and (
            report.closed_after or (not report.opened and time.time() > since + seconds + 2)
        ):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(POLL)
    return report
