"""Lesson 13's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(13), "check")
Asked, Seen, check = check_module.Asked, check_module.Seen, check_module.check


def good() -> object:
    asked = [
        Asked("c-1", "SKU-BOOK", 1, "available", "available", "c-1"),
        Asked("c-2", "SKU-HOODIE", 999, "unavailable", "unavailable", "c-2"),
        Asked("c-3", "SKU-LAPTOP", 1, "timeout", "timeout", None),
    ]
    return Seen(timeout=3.0, asked=asked, late=["c-3"], replies=["c-2", "c-1", "c-3"])


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_swapped_replies_fail() -> None:
    seen = good()
    seen.asked[0].outcome, seen.asked[0].reply_id = "unavailable", "c-2"
    seen.asked[1].outcome, seen.asked[1].reply_id = "available", "c-1"
    assert failing(check(seen)) == {"replies matched by correlation id"}


def test_a_fast_request_that_timed_out_fails() -> None:
    seen = good()
    seen.asked[0].outcome, seen.asked[0].reply_id = "timeout", None
    seen.late.append("c-1")
    assert "replies matched by correlation id" in failing(check(seen))


def test_a_late_reply_handed_to_the_slow_request_fails() -> None:
    seen = good()
    seen.asked[2].outcome, seen.asked[2].reply_id = "available", "c-3"
    seen.late = []
    assert failing(check(seen)) == {"slow replier hit the timeout", "late reply dropped"}


def test_a_late_reply_that_never_came_fails() -> None:
    seen = good()
    seen.late, seen.replies = [], ["c-1", "c-2"]
    assert failing(check(seen)) == {
        "late reply dropped",
        "every request answered on the reply topic",
    }


def test_a_fast_reply_dropped_as_late_fails() -> None:
    seen = good()
    seen.late.append("c-2")
    assert failing(check(seen)) == {"late reply dropped"}


def test_no_slow_request_fails() -> None:
    seen = good()
    seen.asked.pop()
    seen.late = []
    assert failing(check(seen)) == {"slow replier hit the timeout", "late reply dropped"}
