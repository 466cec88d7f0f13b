"""Lesson 3's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(3), "check")
Run, Seen, check = check_module.Run, check_module.Seen, check_module.check

N = 1000


T0 = 1_700_000_000_000


def run(client: str) -> object:
    """A run timed from T0 for 2 s, whose records the broker appended 3 ms to 1.99 s in."""
    good = Run(client, N, N, 0, 2.0, N, N, 50.0, {"user-1": 0, "user-2": 2})
    good.timed_ms, good.appended_ms = (T0, T0 + 2000), (T0 + 3, T0 + 1990)
    good.timestamp_type = "LogAppendTime"
    return good


def detail(seen: object, name: str) -> str:
    return next(c.detail for c in check(seen) if c.name == name)


def good() -> object:
    return Seen(N, [run("kafka-python"), run("confluent-kafka")], [0, 1, 2], [None, None, None])


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_failed_delivery_report_fails() -> None:
    seen = good()
    seen.runs[0].delivered, seen.runs[0].failed = N - 1, 1
    assert failing(check(seen)) == {"kafka-python: every delivery report ok"}


def test_a_missing_message_fails() -> None:
    seen = good()
    seen.runs[1].distinct_on_topic = seen.runs[1].records_on_topic = N - 1
    assert failing(check(seen)) == {"confluent-kafka: each message on the topic once"}


def test_a_duplicate_fails() -> None:
    seen = good()
    seen.runs[1].records_on_topic = N + 1
    assert failing(check(seen)) == {"confluent-kafka: each message on the topic once"}


def test_an_unmeasured_run_fails() -> None:
    seen = good()
    seen.runs[0].seconds, seen.runs[0].timed_ms = 0.0, (T0, T0)
    assert failing(check(seen)) == {"both clients measured"}
    assert detail(seen, "both clients measured") == "kafka-python: not timed"


def test_a_timer_stopped_before_the_broker_had_every_record_fails() -> None:
    """The classic slip: the timer stops when the sends return, before flush()."""
    seen = good()
    seen.runs[1].appended_ms = (T0 + 3, T0 + 2800)  # the broker appended until 0.8 s later
    assert failing(check(seen)) == {"both clients measured"}
    assert detail(seen, "both clients measured") == (
        "confluent-kafka: the broker appended records until 800 ms after the timer stopped "
        "(was flush() inside the timing?)"
    )


def test_a_timer_started_after_the_first_append_fails() -> None:
    seen = good()
    seen.runs[0].timed_ms = (T0 + 500, T0 + 2000)
    assert failing(check(seen)) == {"both clients measured"}
    assert detail(seen, "both clients measured") == (
        "kafka-python: the broker appended a record 497 ms before the timer started"
    )


def test_producer_timestamps_instead_of_the_brokers_fail() -> None:
    """CreateTime is the client's own clock: it cannot say when the broker had the record."""
    seen = good()
    seen.runs[0].timestamp_type = "CreateTime"
    assert failing(check(seen)) == {"both clients measured"}
    assert "carry CreateTime timestamps" in detail(seen, "both clients measured")


def test_nothing_read_back_cannot_be_measured() -> None:
    seen = good()
    seen.runs[1].appended_ms = None
    seen.runs[1].distinct_on_topic = seen.runs[1].records_on_topic = 0
    assert "both clients measured" in failing(check(seen))
    assert detail(seen, "both clients measured") == ("confluent-kafka: no record read back to time")


def test_one_record_per_request_fails() -> None:
    seen = good()
    seen.runs[1].per_request = 1.0
    assert failing(check(seen)) == {"both clients batch"}


def test_keys_on_different_partitions_fail() -> None:
    seen = good()
    seen.runs[1].partition_of_key = {"user-1": 1, "user-2": 2}
    assert failing(check(seen)) == {"same key → same partition in both clients"}


def test_acks_all_without_offsets_fails() -> None:
    seen = good()
    seen.acks_all_offsets = [0, None, 2]
    assert failing(check(seen)) == {"acks=all reports an offset"}


def test_acks_zero_with_offsets_fails() -> None:
    seen = good()
    seen.acks_zero_offsets = [5, 6, 7]
    assert failing(check(seen)) == {"acks=0 reports no offset"}
