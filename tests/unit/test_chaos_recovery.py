"""A broker kill's recovery, partition by partition (`chaos/recovery.py`): never "recovered"
while the metadata still names the dead broker as leader, its ISR still holds it, or no
acks=all write went through."""

from __future__ import annotations

from kafkalab.chaos import recovery
from kafkalab.cluster.health import PartitionView


def _view(name: str, leader: int, isr: tuple[int, ...]) -> PartitionView:
    return PartitionView(name, leader, (1, 2, 3), isr)


BEFORE = {
    "orders[0]": _view("orders[0]", 2, (2, 1, 3)),
    "orders[1]": _view("orders[1]", 1, (1, 2, 3)),
    "orders[2]": _view("orders[2]", 3, (3, 1)),
}


def test_the_dead_brokers_partitions_are_tracked_led_ones_first() -> None:
    kill = recovery.led_by(2, BEFORE.values())
    assert [(p.partition, p.led) for p in kill.partitions] == [
        ("orders[0]", True),
        ("orders[1]", False),
    ]
    assert [p.partition for p in kill.led] == ["orders[0]"]


def test_a_snapshot_that_still_names_the_dead_leader_recovers_nothing() -> None:
    """Right after a SIGKILL nothing has changed yet: the controller has not fenced it."""
    kill = recovery.led_by(2, BEFORE.values())
    recovery.observe(kill, BEFORE, live=(1, 2, 3), at_s=0.5)
    recovery.record_probes(kill, {})
    assert not kill.recovered and kill.seconds is None
    assert kill.waiting() == {
        "a new leader": 1,
        "the ISR to drop the dead broker": 2,
        "an acks=all write": 1,
    }


def test_recovered_only_once_leader_isr_and_probe_all_happened() -> None:
    kill = recovery.led_by(2, BEFORE.values())
    fenced = {
        "orders[0]": _view("orders[0]", 1, (1, 3)),
        "orders[1]": _view("orders[1]", 1, (1, 3)),
    }
    moved = recovery.observe(kill, fenced, live=(1, 3), at_s=9.4)
    assert [p.partition for p in moved] == ["orders[0]"]
    assert kill.partitions[0].new_leader == 1 and kill.partitions[0].leader_s == 9.4
    assert not kill.recovered  # no write went through yet
    recovery.record_probes(kill, {"orders[0]": 9.9})
    assert kill.recovered and kill.seconds == 9.9
    assert "1 partition(s) broker-2 led" in kill.summary()
    assert "acks=all probe 9.9 s" in kill.summary()


def test_a_leader_on_a_broker_the_metadata_does_not_list_is_no_recovery() -> None:
    """-1 (no leader) and a fenced broker are not a live leader."""
    kill = recovery.led_by(2, BEFORE.values())
    recovery.observe(kill, {"orders[0]": _view("orders[0]", -1, (1, 3))}, live=(1, 3), at_s=9.0)
    assert kill.partitions[0].leader_s is None and kill.partitions[0].isr_s == 9.0
    recovery.observe(kill, {"orders[0]": _view("orders[0]", 3, (1, 3))}, live=(1,), at_s=9.5)
    assert kill.partitions[0].leader_s is None
    recovery.observe(kill, {"orders[0]": _view("orders[0]", 3, (1, 3))}, live=(1, 3), at_s=10.0)
    assert kill.partitions[0].leader_s == 10.0 and kill.partitions[0].new_leader == 3


def test_a_broker_that_led_nothing_recovers_when_every_isr_dropped_it() -> None:
    views = {"t[0]": _view("t[0]", 1, (1, 2, 3))}
    kill = recovery.led_by(2, views.values())
    assert kill.led == [] and not kill.recovered
    recovery.observe(kill, {"t[0]": _view("t[0]", 1, (1, 3))}, live=(1, 3), at_s=9.1)
    assert kill.recovered and kill.seconds == 9.1
