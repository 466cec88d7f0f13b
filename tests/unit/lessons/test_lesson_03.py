"""Lesson 3's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(3), "check")
Run, Seen, check = check_module.Run, check_module.Seen, check_module.check

N = 1000


def run(client: str) -> object:
    return Run(client, N, N, 0, 2.0, N, N, 50.0, {"user-1": 0, "user-2": 2})


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
    seen.runs[0].seconds = 0.0
    assert failing(check(seen)) == {"both clients measured"}


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
