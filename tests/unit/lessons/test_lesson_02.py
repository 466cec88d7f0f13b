"""Lesson 2's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(2), "check")
Landed, Seen, check = check_module.Landed, check_module.Seen, check_module.check


def good() -> object:
    landed = [Landed("a", s, 0, s) for s in range(3)] + [Landed("b", s, 1, s) for s in range(3)]
    return Seen(partitions=2, sent=6, landed=landed, computed={"a": 0, "b": 1})


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_key_on_two_partitions_fails() -> None:
    seen = good()
    seen.landed[1] = Landed("a", 1, 1, 9)
    assert "same key → same partition" in failing(check(seen))


def test_reordered_records_fail() -> None:
    seen = good()
    seen.landed[0], seen.landed[1] = Landed("a", 1, 0, 0), Landed("a", 0, 0, 1)
    assert failing(check(seen)) == {"order kept per key"}


def test_a_partition_the_hash_did_not_predict_fails() -> None:
    seen = good()
    seen.computed["b"] = 0
    assert failing(check(seen)) == {"computed partition = landed partition"}


def test_missing_records_fail() -> None:
    seen = good()
    seen.landed = seen.landed[:4]
    assert "every record came back" in failing(check(seen))


def test_all_on_one_partition_fails() -> None:
    seen = Seen(
        partitions=2,
        sent=2,
        landed=[Landed("a", 0, 0, 0), Landed("b", 0, 0, 1)],
        computed={"a": 0, "b": 0},
    )
    assert failing(check(seen)) == {"keys spread over partitions"}
