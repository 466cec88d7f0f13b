"""Lesson 4's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(4), "check")
Seen, check = check_module.Seen, check_module.check


def good() -> object:
    return Seen(
        produced=10,
        later=[7, 8, 9],
        first_run=[0, 1, 2, 3],
        committed=4,
        resumed=[4, 5, 6, 7, 8, 9],
        from_beginning=list(range(10)),
        from_timestamp=[9, 7, 8],
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_commit_that_differs_from_what_was_processed_fails() -> None:
    seen = good()
    seen.committed = 10  # e.g. auto-commit ran ahead of processing
    assert failing(check(seen)) == {"commit = records processed"}


def test_a_restart_that_rereads_fails() -> None:
    seen = good()
    seen.resumed = [3, *seen.resumed]
    assert failing(check(seen)) == {"restart resumes after the commit"}


def test_a_restart_that_skips_records_fails() -> None:
    seen = good()
    seen.resumed = seen.resumed[1:]
    assert failing(check(seen)) == {"restart resumes after the commit"}


def test_a_first_run_that_processed_nothing_fails() -> None:
    seen = good()
    seen.first_run, seen.committed, seen.resumed = [], 0, list(range(10))
    assert failing(check(seen)) == {"restart resumes after the commit"}


def test_a_partial_replay_from_the_beginning_fails() -> None:
    seen = good()
    seen.from_beginning = list(range(1, 10))
    assert failing(check(seen)) == {"replay from the beginning re-reads all"}


def test_a_replay_from_the_timestamp_that_reads_earlier_records_fails() -> None:
    seen = good()
    seen.from_timestamp = [6, 7, 8, 9]
    assert failing(check(seen)) == {"replay from a timestamp re-reads exactly the later records"}


def test_a_replay_from_the_timestamp_that_reads_nothing_fails() -> None:
    seen = good()
    seen.from_timestamp = []
    assert failing(check(seen)) == {"replay from a timestamp re-reads exactly the later records"}
