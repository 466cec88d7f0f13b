"""`kafkalab chaos audit` on the shared 3-broker cluster: a zombie leader, both acks modes."""

from __future__ import annotations

import pytest

from kafkalab import clients
from kafkalab.chaos import audit, broker_ops
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_paused_leader_loses_acks_1_writes_and_no_acks_all_write(
    three_brokers: Running,
) -> None:
    """Pause (SIGSTOP) the leader of every audit partition just after its first follower fell
    a second behind; the controller fences it and elects that follower. What the audit read
    back through Kafka: acks=all kept every acknowledged write once, in order; acks=1 lost
    some it had been told were written. Every broker runs, every ISR is full, afterwards."""
    settings, conn = three_brokers.settings, three_brokers.conn
    report = audit.run_audit(settings, conn, fault="pause", acks="both", seconds=5)

    (run,) = report.audits
    tally = {row.acks: row.tally for row in run.rows}
    assert tally["all"].acknowledged > 0 and tally["1"].acknowledged > 0
    assert (tally["all"].lost, tally["all"].duplicates, tally["all"].reordered) == (0, 0, 0)
    assert tally["1"].lost > 0, report.notes
    (fault,) = run.faults
    assert fault.recovered, fault
    assert report.passed, report.checks

    broker_ops.require_three(settings)  # all three running, none left paused
    assert broker_ops.in_sync(conn)

    def audit_topics() -> list[str]:
        return [t for t in clients.admin(conn).list_topics(timeout=10).topics if "audit" in t]

    broker_ops.wait_for(lambda: not audit_topics(), 15.0)  # deletion spreads to every broker
    assert audit_topics() == []
