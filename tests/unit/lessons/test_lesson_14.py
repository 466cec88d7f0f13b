"""Lesson 14's check says ✘ for each way the filtered, mapped stream can be wrong."""

from __future__ import annotations

from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(14), "check")
Order, Out, Seen, check = (
    check_module.Order,
    check_module.Out,
    check_module.Seen,
    check_module.check,
)


def mapped(order_id: str, user: str, cents: int, items: int, eu: bool) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "user_id": user,
        "total_eur": cents / 100,
        "items": items,
        "eu": eu,
    }


def good() -> Any:
    sent = [
        Order("o-1", "u1", 9000, ["a", "b"], "NL"),
        Order("o-2", "u1", 1000, ["a"], "NL"),
        Order("o-3", "u2", 6000, ["c"], "US"),
        Order("o-4", "u1", 7000, ["d"], "DE"),
    ]
    out = [
        Out("u1", 0, 0, mapped("o-1", "u1", 9000, 2, True)),
        Out("u2", 0, 1, mapped("o-3", "u2", 6000, 1, False)),
        Out("u1", 1, 0, mapped("o-4", "u1", 7000, 1, True)),
    ]
    return Seen(threshold_cents=5000, sent=sent, out=out)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_small_order_let_through_fails() -> None:
    seen = good()
    seen.out.append(Out("u1", 2, 0, mapped("o-2", "u1", 1000, 1, True)))
    assert "no small order passed, none missing" in failing(check(seen))
    assert "one output per big order" in failing(check(seen))


def test_a_missing_big_order_fails() -> None:
    seen = good()
    seen.out.pop()
    assert "no small order passed, none missing" in failing(check(seen))


def test_a_duplicate_fails() -> None:
    seen = good()
    seen.out.append(Out("u1", 2, 0, mapped("o-4", "u1", 7000, 1, True)))
    assert "no small order passed, none missing" in failing(check(seen))


def test_a_wrong_mapping_fails() -> None:
    seen = good()
    seen.out[1] = Out("u2", 0, 1, mapped("o-3", "u2", 6000, 1, True))  # US is not EU
    assert failing(check(seen)) == {"each output is its order, mapped"}


def test_a_changed_key_fails() -> None:
    seen = good()
    seen.out[1] = Out("o-3", 0, 1, mapped("o-3", "u2", 6000, 1, False))
    assert failing(check(seen)) >= {"key kept (user_id)"}


def test_reordered_output_fails() -> None:
    seen = good()
    seen.out[0], seen.out[2] = (
        Out("u1", 0, 0, mapped("o-4", "u1", 7000, 1, True)),
        Out("u1", 1, 0, mapped("o-1", "u1", 9000, 2, True)),
    )
    assert failing(check(seen)) == {"order kept per key"}


def test_a_filter_that_keeps_everything_or_nothing_fails() -> None:
    seen = good()
    seen.threshold_cents = 0
    assert "the filter let some orders through and held others back" in failing(check(seen))
