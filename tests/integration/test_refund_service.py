"""Lesson 22's reference refund service as the shop's seventh service (`kafkalab up --with
refund`): a load whose customers cancel some paid orders, a `chaos kill refund` in it, and
the refunds read back from the broker — each order paid and then cancelled refunded once, for
what it paid, and no other order refunded.

It borrows the short-TTL platform and stops the service again, so the variant's other tests
see the six services they expect. (Refusing unpaid cancellations is lesson 22's grader's and
the unit tests' business: this load's customers can all pay.)"""

from __future__ import annotations

from kafkalab.chaos import runner
from kafkalab.content import lessons_dir
from kafkalab.events import topics as t
from kafkalab.observe.trace import read_events
from kafkalab.observe.verify import REFUNDS, refund_cases, refunds_invariant
from kafkalab.platform import control, files
from tests.integration.pool import Running

SOLUTION = lessons_dir() / "22-capstone-refunds" / "solution.py"


def test_the_reference_refund_service_refunds_once_through_kills(
    short_ttl_platform: Running,
) -> None:
    shop = short_ttl_platform
    control.up(shop.settings, with_learner={"refund": SOLUTION})
    try:
        assert any(r.service == "refund" for r in files.read_status(shop.settings).replicas)
        # Its /health is prometheus_client's metrics text, not kafkalab's JSON: still healthy.
        assert [r.health for r in control.ps(shop.settings) if r.service == "refund"] == ["ok"]
        report = runner.run(shop.settings, shop.conn, "kill", "refund", during_load=40, every=3.0)
        assert report.faults >= 1 and report.recovery_seconds, report.timeline
        assert report.load is not None and report.load.cancels is not None
        assert report.load.cancels.accepted >= 1, report.load.cancels
        assert report.verify is not None
        assert REFUNDS in {i.name for i in report.verify.invariants}
        assert report.passed, [i for i in report.verify.invariants if not i.ok]

        # Read back independently: the load's orders, their payments and their refunds.
        topics = (t.ORDER_EVENTS, t.PAYMENTS, t.REFUNDS)
        events = read_events(shop.conn, topics, since_ms=report.load.started_ms, strict=True)
        mine = set(report.load.order_ids)
        cases = [c for oid, c in refund_cases(events, *topics).items() if oid in mine]
        owed = [c for c in cases if c.owed]
        assert len(owed) >= report.load.cancels.seen >= 1
        # Paid orders kept: a service that refunded every payment would fail below.
        assert any(c.paid and not c.cancelled for c in cases)
        verdict = refunds_invariant(cases)
        assert verdict.ok, verdict.examples
        assert sum(len(c.refunds) for c in cases) == len(owed)
    finally:
        control.stop_learner(shop.settings, "refund")
    assert not any(r.service == "refund" for r in files.read_status(shop.settings).replicas)
