"""Lesson 8's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(8), "check")
Run, Seen, check = check_module.Run, check_module.Seen, check_module.check

BATCH = [5, 6, 7, 8, 9]


def good() -> object:
    at_most_once = Run("at-most-once", [*range(7), *range(10, 20)], BATCH, [5, 6])
    at_least_once = Run("at-least-once", [*range(7), *range(5, 20)], BATCH, [5, 6])
    return Seen(sent=20, at_most_once=at_most_once, at_least_once=at_least_once)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_crash_at_a_batch_boundary_proves_nothing() -> None:
    seen = good()
    seen.at_least_once.done_before_crash = []
    seen.at_least_once.processed = list(range(20))
    assert "the crash hit mid-batch" in failing(check(seen))


def test_at_most_once_that_lost_nothing_fails() -> None:
    seen = good()
    seen.at_most_once.processed = list(range(20))
    assert failing(check(seen)) == {"at-most-once lost the rest of the batch"}


def test_at_most_once_that_lost_more_than_the_batch_fails() -> None:
    seen = good()
    seen.at_most_once.processed = [*range(7), *range(11, 20)]
    assert failing(check(seen)) == {"at-most-once lost the rest of the batch"}


def test_at_most_once_with_a_repeat_fails() -> None:
    seen = good()
    seen.at_most_once.processed.append(12)
    assert failing(check(seen)) == {"at-most-once repeated nothing"}


def test_at_least_once_without_the_repeats_fails() -> None:
    seen = good()
    seen.at_least_once.processed = list(range(20))
    assert failing(check(seen)) == {"at-least-once repeated what it had done"}


def test_at_least_once_that_lost_a_record_fails() -> None:
    seen = good()
    seen.at_least_once.processed.remove(15)
    assert failing(check(seen)) == {"at-least-once lost nothing"}
