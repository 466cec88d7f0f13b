"""The lag autoscaler and `scenario high-load` on a platform of their own.

Payment is made slow on purpose (40 ms per gateway call), so a burst of orders leaves a real
lag on its group for the supervisor's autoscaler to react to. The reservation TTL is long so
that slow payments end CONFIRMED rather than late (a payment that arrives as its reservation
expires ends CANCELLED: tests/integration/test_order.py covers that on its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kafkalab import clients
from kafkalab.chaos import watch
from kafkalab.events.topics import INVENTORY_EVENTS, PAYMENTS_RETRY
from kafkalab.load.driver import run_load
from kafkalab.platform import autoscaler, control, files
from kafkalab.platform.scaling import Policy
from kafkalab.scenarios import highload
from kafkalab.settings import Settings
from tests.integration.services import own_platform

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_platform(
        tmp_path_factory.mktemp("kafkalab-highload"), payment_latency_ms=40, reservation_ttl=60.0
    ) as settings:
        yield settings


def _partitions(settings: Settings, topic: str) -> int:
    metadata = clients.admin(settings).list_topics(topic, timeout=10)
    return len(metadata.topics[topic].partitions)


def test_sustained_payment_lag_makes_the_supervisor_add_a_replica(platform: Settings) -> None:
    control.set_autoscale(platform, Policy(lag_threshold=20, sustain_seconds=3, idle_seconds=0))
    result: dict[str, Any] = {}
    load = threading.Thread(
        target=lambda: result.update(report=run_load(platform, orders=400, users=20)), daemon=True
    )
    load.start()
    try:
        deadline = time.monotonic() + 180
        steps: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not steps:
            state = autoscaler.read_state(platform)
            steps = [d for d in state.decisions if d["service"] == "payment" and d["kind"] == "up"]
            time.sleep(1)
        assert steps, autoscaler.read_state(platform)
        assert (steps[0]["replicas"], steps[0]["target"]) == (1, 2)
        assert files.read_desired(platform)["payment"] >= 2

        # The new replica really joined payment's group and took partitions from the first.
        deadline = time.monotonic() + 120
        members: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            members = watch.group_assignment(platform, "kafkalab-payment")
            if len([m for m, parts in members.items() if parts]) >= 2:
                break
            time.sleep(1)
        assert "payment-1" in members and members["payment-1"], members

        # Bounded by the partitions: the limit it works to is the busiest topic payment reads.
        view = autoscaler.read_state(platform).groups["payment"]
        assert view.limit == max(
            _partitions(platform, INVENTORY_EVENTS), _partitions(platform, PAYMENTS_RETRY)
        )
        assert files.read_desired(platform)["payment"] <= view.limit
        load.join(300)
        assert result["report"].all_terminal, result["report"].lost_order_ids
    finally:
        control.set_autoscale(platform, None)
        load.join(300)
        control.scale(platform, "payment", 1, timeout=120)


def test_high_load_rebalances_payment_trips_the_breaker_and_keeps_every_invariant(
    platform: Settings,
) -> None:
    report = highload.run(platform, highload.HighLoadPlan(orders=200, rate=25))

    # Payment went from one member owning everything to three sharing it, nothing twice.
    assert report.before is not None and report.after is not None
    assert list(report.before.members) == ["payment-0"], report.before
    owned = [p for parts in report.after.members.values() for p in parts]
    assert len([m for m, parts in report.after.members.items() if parts]) == 3, report.after
    assert sorted(owned) == sorted(report.before.members["payment-0"])

    # The breaker opened under the burst and closed again afterwards.
    moves = [(c.before, c.after) for c in report.circuit]
    assert ("closed", "open") in moves, report.timeline
    opened_at = min(c.at for c in report.circuit if c.after == "open")
    assert any(c.after == "closed" and c.at > opened_at for c in report.circuit), report.timeline
    kinds = {e.kind for e in report.timeline}
    assert {"fault", "circuit", "scale", "rebalance"} <= kinds

    assert report.load is not None and report.load.all_terminal, report.load.lost_order_ids
    assert report.verify is not None
    assert not [i for i in report.verify.invariants if not i.ok]
    assert report.passed, report.checks
    assert autoscaler.read_policy(platform) is None  # the scenario put the autoscaler back off
