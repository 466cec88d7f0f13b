"""Lesson 22's check says ✘ when a grader check failed or a refund is missing or doubled."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import Check, passed

check_module = load_module(find(22), "check")
Seen, check = check_module.Seen, check_module.check


def good() -> object:
    graded = [Check("every refund once, none for an unpaid order", True, "10 orders")]
    return Seen(graded=graded, owed=10, committed=10, uncommitted=12)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_failed_grader_check_fails_the_demo() -> None:
    seen = good()
    seen.graded = [Check("the poison record was dead-lettered once, with its reason", False, "")]
    assert not passed(check(seen))


def test_a_doubled_refund_fails() -> None:
    seen = good()
    seen.committed = 11
    assert not passed(check(seen))
