"""Lesson 10's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(10), "check")
Seen, check = check_module.Seen, check_module.check

ORDERS = [f"o{n}" for n in range(12)]
FIRST, KILLED = ORDERS[:4], ORDERS[4:8]


def good() -> object:
    return Seen(
        orders=list(ORDERS),
        killed_exit=-9,
        restarted_exit=0,
        open_committed=list(FIRST),
        open_uncommitted=FIRST + KILLED,
        final_committed=list(ORDERS),
        final_uncommitted=FIRST + KILLED + ORDERS[4:],
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_processor_that_was_not_killed_fails() -> None:
    seen = good()
    seen.killed_exit = 0
    assert failing(check(seen)) == {"the first processor was killed (SIGKILL)"}


def test_no_payments_in_flight_fails() -> None:
    seen = good()
    seen.open_uncommitted = list(FIRST)
    assert "the open transaction's payments were in the log" in failing(check(seen))


def test_a_restart_that_did_not_finish_fails() -> None:
    seen = good()
    seen.restarted_exit = 1
    assert failing(check(seen)) == {"the restarted processor finished"}


def test_read_committed_seeing_a_payment_twice_fails() -> None:
    seen = good()
    seen.final_committed = ORDERS + ["o5"]
    assert failing(check(seen)) == {"read_committed sees each payment once"}


def test_read_committed_missing_a_payment_fails() -> None:
    seen = good()
    seen.final_committed = ORDERS[:-1]
    assert failing(check(seen)) == {"read_committed sees each payment once"}


def test_read_uncommitted_without_the_aborted_copies_fails() -> None:
    seen = good()
    seen.final_uncommitted = list(ORDERS)
    assert failing(check(seen)) == {"read_uncommitted also sees the aborted ones"}
