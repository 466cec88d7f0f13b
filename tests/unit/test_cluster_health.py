"""What killing one more broker would do (`cluster/health.py`): the refusal rule for the KRaft
quorum and min.insync.replicas, and each broker's running / dead / fenced state."""

from __future__ import annotations

from kafkalab.cluster import health
from kafkalab.cluster.health import PartitionView

FULL = [PartitionView(f"t[{i}]", 1 + i % 3, (1, 2, 3), (1, 2, 3)) for i in range(6)]


def test_killing_one_of_three_whole_brokers_is_safe() -> None:
    forecast = health.forecast_kill(
        2, alive=(1, 2, 3), voters=(1, 2, 3), partitions=FULL, min_isr=2
    )
    assert forecast.refusal is None and not forecast.quorum_lost
    assert "leaders move, writes go on" in forecast.consequence


def test_a_second_kill_loses_the_quorum_and_is_refused_in_one_sentence() -> None:
    forecast = health.forecast_kill(3, alive=(1, 3), voters=(1, 2, 3), partitions=FULL, min_isr=2)
    assert forecast.quorum_lost
    assert forecast.refusal is not None
    assert "1 of 3 KRaft controllers" in forecast.refusal and "majority of 2" in forecast.refusal
    assert forecast.refusal.count(". ") == 0  # one sentence


def test_min_insync_replicas_is_counted_over_live_replicas_only() -> None:
    """Broker 2 died a moment ago and is still in every ISR: killing 3 leaves one live replica.
    (Five voters, two of them brokerless controllers, so the quorum survives the kill.)"""
    forecast = health.forecast_kill(
        3, alive=(1, 3, 4, 5), voters=(1, 2, 3, 4, 5), partitions=FULL, min_isr=2
    )
    assert not forecast.quorum_lost  # 3 of 5 voters stay
    assert forecast.below_min_isr == 6 and forecast.offline == 0
    assert forecast.refusal is not None and "6 partition(s) below min.insync.replicas=2" in (
        forecast.refusal
    )


def test_the_last_in_sync_replica_takes_its_partitions_offline() -> None:
    alone = [PartitionView("t[0]", 1, (1, 2, 3), (1,))]
    forecast = health.forecast_kill(
        1, alive=(1, 2, 3), voters=(1, 2, 3), partitions=alone, min_isr=2
    )
    assert forecast.offline == 1
    assert forecast.refusal is not None and "offline" in forecast.refusal


def test_broker_states() -> None:
    assert health.broker_state(2, process_alive=False, registered=(1, 2, 3)) == "dead"
    assert health.broker_state(2, process_alive=True, registered=(1, 3)) == "fenced"
    assert health.broker_state(2, process_alive=True, registered=(1, 2, 3)) == "running"


def test_partition_counts() -> None:
    parts = health.Partitions(
        {
            "a[0]": PartitionView("a[0]", 1, (1, 2, 3), (1, 3)),
            "a[1]": PartitionView("a[1]", -1, (2,), ()),
            "a[2]": PartitionView("a[2]", 3, (1, 2, 3), (1, 2, 3)),
        },
        (1, 3),
    )
    assert parts.under_replicated == 2 and parts.offline == 1
    assert parts.missing_from_isr(2) == ["a[0]", "a[1]"]
