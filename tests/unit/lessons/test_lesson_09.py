"""Lesson 9's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(9), "check")
Decision, Seen, check = check_module.Decision, check_module.Seen, check_module.check

DUE = 10_000


def good() -> object:
    return Seen(
        poison="p",
        poison_offset=7,
        healthy=["a", "b"],
        delayed="d",
        delayed_not_before_ms=DUE,
        delayed_attempts_before=2,
        dlt_headers={
            "error.type": "InvalidPayment",
            "error.message": "negative amount -1999 for order p",
            "original.topic": "payments.retry",
            "original.offset": "7",
        },
        before_replay=[
            Decision("a", "PaymentCompleted", 1500, 2, 100),
            Decision("b", "PaymentCompleted", 1500, 2, 110),
            Decision("d", "PaymentCompleted", 2500, 3, DUE + 50),
        ],
        after_replay=[Decision("p", "PaymentCompleted", 1999, 2, DUE + 900)],
        fixed_amount_cents=1999,
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_no_dead_letter_fails() -> None:
    seen = good()
    seen.dlt_headers = None
    assert failing(check(seen)) == {"poison in payments.DLT with its reason in headers"}


def test_a_dead_letter_without_the_reason_fails() -> None:
    seen = good()
    seen.dlt_headers["error.type"] = "Retryable"
    assert failing(check(seen)) == {"poison in payments.DLT with its reason in headers"}


def test_a_dead_letter_pointing_elsewhere_fails() -> None:
    seen = good()
    seen.dlt_headers["original.offset"] = "8"
    assert failing(check(seen)) == {"poison in payments.DLT with its reason in headers"}


def test_poison_paid_before_the_fix_fails() -> None:
    seen = good()
    seen.before_replay.append(Decision("p", "PaymentCompleted", -1999, 2, 120))
    assert "poison not paid before the fix" in failing(check(seen))


def test_a_record_stuck_behind_the_poison_fails() -> None:
    seen = good()
    seen.before_replay = [d for d in seen.before_replay if d.order_id != "b"]
    assert failing(check(seen)) == {"everything behind it paid once"}


def test_a_record_paid_twice_fails() -> None:
    seen = good()
    seen.before_replay.append(Decision("a", "PaymentCompleted", 1500, 2, 130))
    assert failing(check(seen)) == {"everything behind it paid once"}


def test_a_retry_taken_before_it_was_due_fails() -> None:
    seen = good()
    seen.before_replay[2] = Decision("d", "PaymentCompleted", 2500, 3, DUE - 1)
    assert failing(check(seen)) == {"the retry waited for its backoff"}


def test_a_retry_that_did_not_count_its_attempt_fails() -> None:
    seen = good()
    seen.before_replay[2] = Decision("d", "PaymentCompleted", 2500, 2, DUE + 50)
    assert failing(check(seen)) == {"the retry waited for its backoff"}


def test_a_replay_that_was_not_paid_fails() -> None:
    seen = good()
    seen.after_replay = []
    assert failing(check(seen)) == {"the fixed poison, replayed, was paid once"}


def test_a_replay_paid_twice_fails() -> None:
    seen = good()
    seen.after_replay = seen.after_replay * 2
    assert failing(check(seen)) == {"the fixed poison, replayed, was paid once"}
