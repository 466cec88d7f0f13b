"""Lesson 19's check: every endpoint was scraped with its catalogue metrics (the broker's own
too, from its JMX exporter agent, which must show a healthy broker), and the consumer-lag alert
went pending → firing while notification was paused, then inactive once it caught up.

The demo records each evaluation of the rule file (alerts.yml) as a `Sample`: what the
KafkalabConsumerLag alert said about notification's group, and the group's lag and `up` as the
same scrape saw them. The check judges only those samples and the demo's own scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Literal

from kafkalab.catalogue.metrics import ALL_SERVICES, BROKER, PLATFORM
from kafkalab.verdict import Check, expect

ENDPOINTS = (*ALL_SERVICES, PLATFORM, BROKER)


@dataclass(frozen=True)
class Scraped:
    """One endpoint's /metrics as the demo read it."""

    endpoint: str  # a service name, or "platform"
    answered: bool
    missing: list[str] = field(default_factory=list)  # catalogue metrics absent or mistyped


@dataclass(frozen=True)
class BrokerView:
    """What the broker's own /metrics said, summed over its brokers (the JMX exporter agent)."""

    under_replicated: float  # kafka_server_replicamanager_underreplicatedpartitions
    offline: float  # kafka_controller_kafkacontroller_offlinepartitionscount (max)
    active_controllers: float  # kafka_controller_kafkacontroller_activecontrollercount
    produce_requests: float  # kafka_network_requestmetrics_requests_total{request="Produce"}
    produce_p99: float  # seconds, kafka_network_requestmetrics_totaltime_seconds 0.99


@dataclass(frozen=True)
class Sample:
    """One evaluation of the rule file, as far as the paused group is concerned."""

    phase: Literal["paused", "resumed"]
    at: float  # seconds since the pause
    state: str  # firing | pending | inactive
    value: float | None  # the alert's value (the group's summed lag) when active
    active_for: float  # how long the expression had been true
    lag: int  # kafkalab_consumergroup_lag summed for the group, same scrape
    up: bool  # did the paused service answer this scrape


@dataclass
class Seen:
    scraped: list[Scraped]
    broker: BrokerView | None  # None: no broker endpoint answered
    threshold: float  # the rule's `> N`
    for_seconds: float  # the rule's `for:`
    samples: list[Sample]


def check(seen: Seen) -> list[Check]:
    by_endpoint = {s.endpoint: s for s in seen.scraped}
    silent = [e for e in ENDPOINTS if not (e in by_endpoint and by_endpoint[e].answered)]
    missing = [f"{s.endpoint}: {m}" for s in seen.scraped for m in s.missing]
    paused = [s for s in seen.samples if s.phase == "paused"]
    resumed = [s for s in seen.samples if s.phase == "resumed"]
    states = [s.state for s in paused]
    first_pending = states.index("pending") if "pending" in states else None
    first_firing = states.index("firing") if "firing" in states else None
    fired = next((s for s in paused if s.state == "firing"), None)
    last = resumed[-1] if resumed else None
    return [
        expect(
            "every endpoint answered /metrics",
            not silent,
            f"{len(ENDPOINTS) - len(silent)} of {len(ENDPOINTS)}"
            + (f"; silent: {', '.join(silent)}" if silent else ""),
        ),
        expect(
            "every catalogue metric exported with its type",
            not missing and not silent,
            "; ".join(missing[:4]) if missing else "none missing",
        ),
        _broker_healthy(seen.broker),
        expect(
            "the broker timed Produce requests",
            seen.broker is not None and seen.broker.produce_requests > 0,
            f"{seen.broker.produce_requests:g} Produce requests, p99 "
            f"{seen.broker.produce_p99 * 1000:.0f} ms"
            if seen.broker
            else "no broker metrics",
        ),
        expect(
            "lag alert pending before firing",
            first_pending is not None
            and (first_firing is None or first_pending < first_firing)
            and seen.for_seconds > 0,
            f"paused states: {' → '.join(_runs(states)) or 'none'} (for: {seen.for_seconds:g} s)",
        ),
        expect(
            "lag alert fired while paused, over its threshold",
            fired is not None
            and fired.value is not None
            and fired.value > seen.threshold
            and fired.active_for >= seen.for_seconds,
            f"firing at {fired.at:.0f} s with lag {fired.value:g}, held {fired.active_for:.0f} s "
            f"(> {seen.threshold:g} for {seen.for_seconds:g} s)"
            if fired
            else f"never fired in {len(paused)} evaluations",
        ),
        expect(
            "paused service answers again after resume",
            last is not None and last.up,
            "up" if last and last.up else "no answer after resume",
        ),
        expect(
            "lag alert cleared after resume",
            fired is not None and last is not None and last.state == "inactive" and last.lag == 0,
            f"{last.state}, lag {last.lag} at {last.at:.0f} s" if last else "not evaluated",
        ),
    ]


def _broker_healthy(broker: BrokerView | None) -> Check:
    return expect(
        "the broker reports every partition led and in sync",
        broker is not None
        and broker.under_replicated == 0
        and broker.offline == 0
        and broker.active_controllers == 1,
        f"under-replicated {broker.under_replicated:g}, offline {broker.offline:g}, active "
        f"controllers {broker.active_controllers:g}"
        if broker
        else "no broker metrics",
    )


def _runs(states: list[str]) -> list[str]:
    """['inactive', 'pending', 'pending', 'firing'] → ['inactive', 'pending×2', 'firing']."""
    counted = [(state, len(list(run))) for state, run in groupby(states)]
    return [f"{state}×{n}" if n > 1 else state for state, n in counted]
