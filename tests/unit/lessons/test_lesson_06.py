"""Lesson 6's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(6), "check")
Record, Seen, check = check_module.Record, check_module.Seen, check_module.check


def headers(service: str, cause: str = "") -> dict[str, str]:
    found = {"service": service, "trace_id": "t1", "event_type": "X"}
    return {**found, "causation_id": cause} if cause else found


def good() -> object:
    produced = [
        Record("o", 0, 0, "k1", "OrderCreated", headers("order")),
        Record("p", 0, 0, "k1", "PaymentCompleted", headers("payment", "e1")),
        Record("p", 0, 1, "k2", "PaymentCompleted", headers("payment", "e9")),
    ]
    tailed = [
        Record(r.topic, r.partition, r.offset, r.key, r.event_type, dict(r.headers))
        for r in produced
    ]
    return Seen(
        produced=produced,
        tailed=tailed,
        chain=["e1", "e2", "e3"],
        traced=["e1", "e2", "e3"],
        created={"o": (3, "3600000"), "p": (1, "3600000")},
        described={"o": (3, "3600000"), "p": (1, "3600000")},
        group_state="STABLE",
        group_members=1,
        member_partitions=["p[0]"],
        topic_partitions=["p[0]"],
        produced_to_group_topic=2,
        processed=1,
        lag=1,
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_record_tail_did_not_show_fails() -> None:
    seen = good()
    seen.tailed = seen.tailed[:2]
    assert failing(check(seen)) == {"tail shows every record as produced"}


def test_a_record_shown_with_another_type_fails() -> None:
    seen = good()
    seen.tailed[0].event_type = "(not Avro)"
    assert failing(check(seen)) == {"tail shows every record as produced"}


def test_a_header_that_changed_fails() -> None:
    seen = good()
    seen.tailed[1].headers["causation_id"] = "someone-else"
    assert failing(check(seen)) == {"headers as produced"}


def test_a_trace_in_timestamp_order_fails() -> None:
    seen = good()
    seen.traced = ["e3", "e2", "e1"]
    assert failing(check(seen)) == {"trace puts each event after its cause"}


def test_describe_with_other_partitions_fails() -> None:
    seen = good()
    seen.described = {**seen.described, "o": (1, "3600000")}
    assert failing(check(seen)) == {"describe shows the topics as created"}


def test_describe_with_another_retention_fails() -> None:
    seen = good()
    seen.described = {**seen.described, "p": (1, "604800000")}
    assert failing(check(seen)) == {"describe shows the topics as created"}


def test_an_empty_group_fails() -> None:
    seen = good()
    seen.group_state, seen.group_members, seen.member_partitions = "EMPTY", 0, []
    assert failing(check(seen)) == {"the group described while it reads"}


def test_a_lag_that_does_not_add_up_fails() -> None:
    seen = good()
    seen.lag = 2
    assert failing(check(seen)) == {"lag = produced − processed"}
