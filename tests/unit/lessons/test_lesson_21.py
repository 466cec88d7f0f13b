"""Lesson 21's check says ✘ for each way a share group can fail to act as a queue."""

from __future__ import annotations

from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(21), "check")
Seen, Got, check = check_module.Seen, check_module.Got, check_module.check


def good() -> Any:
    return Seen(
        partitions=1,
        sent=4,
        consumers={
            "consumer A": [Got(0, 1, "order-1"), Got(2, 1, "order-3")],
            "consumer B": [Got(1, 1, "order-2"), Got(3, 1, "order-4")],
        },
        members={"m1": ["orders:0"], "m2": ["orders:0"]},
        retry_offset=4,
        released=[Got(4, 1, "order-retry")],
        rejected=[Got(4, 2, "order-retry")],
        history={
            **{o: [("acknowledged", 1)] for o in range(4)},
            4: [("available", 1), ("archived", 2)],
        },
        lag="0",
    )


def test_a_queue_shared_by_two_consumers_passes() -> None:
    assert passed(check(good()))


def test_one_consumer_taking_everything_fails() -> None:
    seen = good()
    seen.consumers = {"consumer A": [Got(o, 1, "x") for o in range(4)], "consumer B": []}
    assert failing(check(seen)) == {"two consumers took records from one partition"}


def test_a_member_without_the_partition_fails() -> None:
    seen = good()
    seen.members = {"m1": ["orders:0"], "m2": []}
    assert failing(check(seen)) == {"the broker assigned the partition to both members"}


def test_a_record_printed_twice_fails() -> None:
    seen = good()
    seen.consumers["consumer B"].append(Got(0, 2, "order-1"))
    assert failing(check(seen)) == {"each record went to one consumer, once"}


def test_a_record_the_broker_delivered_twice_fails() -> None:
    seen = good()
    seen.history[2] = [("available", 1), ("acknowledged", 2)]
    [result] = [c for c in check(seen) if not c.ok]
    assert "wrote [('available', 1), ('acknowledged', 2)] for offset 2" in result.detail


def test_a_record_rejected_at_once_was_not_redelivered() -> None:
    seen = good()
    seen.history[4] = [("archived", 1)]
    assert failing(check(seen)) == {
        "a released record came back, delivery count 2, then was rejected"
    }


def test_records_still_in_flight_fail() -> None:
    seen = good()
    seen.lag = "1"
    assert failing(check(seen)) == {"nothing left for the group"}
