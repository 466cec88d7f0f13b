"""The lag autoscaler and `scenario high-load` on a platform of their own.

Payment is made slow on purpose (40 ms per gateway call), so a burst of orders leaves a real
lag on its group for the supervisor's autoscaler to react to. The reservation TTL is long so
that slow payments end CONFIRMED rather than late (a payment that arrives as its reservation
expires ends CANCELLED: tests/integration/test_order.py covers that on its own).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kafkalab import clients
from kafkalab.chaos import watch
from kafkalab.connection import Connection
from kafkalab.events.topics import INVENTORY_EVENTS, PAYMENTS_RETRY
from kafkalab.load.driver import run_load
from kafkalab.platform import autoscaler, control, files
from kafkalab.platform.scaling import MAX_REPLICAS, Policy
from kafkalab.scenarios import highload
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _partitions(conn: Connection, topic: str) -> int:
    metadata = clients.admin(conn).list_topics(topic, timeout=10)
    return len(metadata.topics[topic].partitions)


def test_sustained_payment_lag_makes_the_supervisor_add_a_replica(
    high_load_platform: Running,
) -> None:
    settings, conn = high_load_platform.settings, high_load_platform.conn
    control.set_autoscale(settings, Policy(lag_threshold=20, sustain_seconds=3, idle_seconds=0))
    result: dict[str, Any] = {}
    load = threading.Thread(
        target=lambda: result.update(report=run_load(settings, conn, orders=400, users=20)),
        daemon=True,
    )
    load.start()
    try:
        deadline = time.monotonic() + 180
        steps: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not steps:
            state = autoscaler.read_state(settings)
            steps = [d for d in state.decisions if d["service"] == "payment" and d["kind"] == "up"]
            time.sleep(1)
        assert steps, autoscaler.read_state(settings)
        assert (steps[0]["replicas"], steps[0]["target"]) == (1, 2)
        assert files.read_desired(settings)["payment"] >= 2

        # The new replica really joined payment's group and took partitions from the first.
        deadline = time.monotonic() + 120
        members: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            members = watch.group_assignment(conn, "kafkalab-payment")
            if len([m for m, parts in members.items() if parts]) >= 2:
                break
            time.sleep(1)
        assert "payment-1" in members and members["payment-1"], members

        # Bounded by the partitions: cooperative-sticky spreads every partition payment reads,
        # so the limit it works to is their sum over both topics (12).
        view = autoscaler.read_state(settings).groups["payment"]
        assert view.limit == min(
            _partitions(conn, INVENTORY_EVENTS) + _partitions(conn, PAYMENTS_RETRY), MAX_REPLICAS
        )
        assert files.read_desired(settings)["payment"] <= view.limit
        load.join(300)
        assert result["report"].all_terminal, result["report"].lost_order_ids
    finally:
        control.set_autoscale(settings, None)
        load.join(300)
        control.scale(settings, "payment", 1, timeout=120)


def test_high_load_rebalances_payment_trips_the_breaker_and_keeps_every_invariant(
    high_load_platform: Running,
) -> None:
    settings, conn = high_load_platform.settings, high_load_platform.conn
    report = highload.run(settings, conn, highload.HighLoadPlan(orders=200, rate=25))

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
    assert autoscaler.read_policy(settings) is None  # the scenario put the autoscaler back off
