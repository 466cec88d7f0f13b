"""Broker faults on the shared 3-broker cluster: a kill's recovery is measured per partition,
a second kill that would lose the KRaft quorum is refused, and a restart waits until the broker
is back in every ISR. The test leaves the cluster whole (every broker running, every ISR full)."""

from __future__ import annotations

from collections import Counter

import pytest

from kafkalab import clients
from kafkalab.chaos import faults, runner
from kafkalab.cluster import health, lifecycle
from kafkalab.events.topics import CATALOGUE, apply_catalogue
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _whole(three: Running) -> None:
    """Every broker running and back in every ISR (what the next test expects)."""
    lifecycle.up(three.settings)
    for node in (1, 2, 3):
        seconds, missing = health.wait_in_sync(three.conn, node, 90)
        assert seconds is not None, f"broker-{node} not back in sync: {missing[:5]}"


def test_a_kill_is_timed_per_partition_a_second_is_refused_and_restart_catches_up(
    three_brokers: Running,
) -> None:
    three = three_brokers
    apply_catalogue(clients.admin(three.conn))
    _whole(three)
    topics = {spec.name for spec in CATALOGUE}
    led = Counter(v.leader for v in health.read_partitions(three.conn, topics).views.values())
    victim = max((2, 3), key=lambda node: led[node])  # broker-1 stays: it is the bootstrap
    survivor = 5 - victim  # the other one of 2 and 3
    try:
        report = runner.run(three.settings, three.conn, "kill", f"broker-{victim}")
        assert report.failure is None, report.timeline
        [kill] = report.kills
        assert kill.led and kill.recovered, kill
        for p in kill.led:
            assert p.new_leader not in (victim, -1, None), p
            assert p.leader_s is not None and p.isr_s is not None and p.probe_s is not None
        # Nothing is "recovered" while the metadata still names the dead broker as leader.
        after = health.read_partitions(three.conn, topics)
        assert not [v.name for v in after.views.values() if v.leader == victim]
        kinds = [e.kind for e in report.timeline]
        assert kinds.index("fault") < kinds.index("recovered"), report.timeline

        status = lifecycle.status(three.settings)
        states = {b.node_id: b.state for b in status.brokers}
        assert states[victim] == "dead" and states[1] == "running", states
        assert status.under_replicated and status.offline == 0

        with pytest.raises(faults.KillRefused, match="KRaft controllers"):
            runner.run(three.settings, three.conn, "kill", f"broker-{survivor}")
        assert lifecycle.status(three.settings).brokers[survivor - 1].running  # untouched

        # What `chaos restart` injects (its invariant checker is the kill's, already run).
        target = faults.resolve(three.settings, f"broker-{victim}")
        done = faults.inject(three.settings, "restart", target)
        assert "started again; back in every ISR after" in done, done
        status = lifecycle.status(three.settings)
        assert [b.state for b in status.brokers] == ["running"] * 3
        assert status.under_replicated == 0 and status.offline == 0
    finally:
        _whole(three)
