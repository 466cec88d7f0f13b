"""Lesson 9's check: the poison pill left the retry topic for payments.DLT with its reason in
headers, everything behind it was paid, the delayed retry waited for its backoff, and the
fixed poison replayed from the DLT was paid once."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect


@dataclass
class Decision:
    """One PaymentCompleted / PaymentFailed read back from `payments`."""

    order_id: str
    type: str
    amount_cents: int
    attempts: int
    written_ms: int  # the record's timestamp: when payment decided


@dataclass
class Seen:
    poison: str  # order id of the poison pill
    poison_offset: int  # where it was written on payments.retry
    healthy: list[str]  # order ids written behind it, due at once
    delayed: str  # order id of the retry not due for a while
    delayed_not_before_ms: int
    delayed_attempts_before: int  # retry.attempts on the delayed record
    dlt_headers: dict[str, str] | None  # headers of the poison's record on payments.DLT
    before_replay: list[Decision] = field(default_factory=list)
    after_replay: list[Decision] = field(default_factory=list)
    fixed_amount_cents: int = 0


def _of(decisions: list[Decision], order_id: str) -> list[Decision]:
    return [d for d in decisions if d.order_id == order_id]


def check(seen: Seen) -> list[Check]:
    headers = seen.dlt_headers or {}
    wanted = {
        "error.type": "InvalidPayment",
        "original.topic": "payments.retry",
        "original.offset": str(seen.poison_offset),
    }
    wrong = {k: headers.get(k) for k, v in wanted.items() if headers.get(k) != v}
    paid = [
        o
        for o in seen.healthy
        if [d.type for d in _of(seen.before_replay, o)] == ["PaymentCompleted"]
    ]
    delayed = _of(seen.before_replay, seen.delayed)
    replayed = _of(seen.after_replay, seen.poison)
    return [
        expect(
            "poison in payments.DLT with its reason in headers",
            seen.dlt_headers is not None
            and not wrong
            and "negative amount" in headers.get("error.message", ""),
            "not found on payments.DLT"
            if seen.dlt_headers is None
            else f"error.message={headers.get('error.message')!r}"
            + (f"; unexpected {wrong}" if wrong else ""),
        ),
        equal(
            "poison not paid before the fix",
            [],
            [d.type for d in _of(seen.before_replay, seen.poison)],
        ),
        equal("everything behind it paid once", seen.healthy, paid),
        expect(
            "the retry waited for its backoff",
            len(delayed) == 1
            and delayed[0].written_ms >= seen.delayed_not_before_ms
            and delayed[0].attempts == seen.delayed_attempts_before + 1,
            "not decided"
            if not delayed
            else f"decided {delayed[0].written_ms - seen.delayed_not_before_ms:+d} ms after it was "
            f"due, attempt {delayed[0].attempts}, {len(delayed)} decision(s)",
        ),
        expect(
            "the fixed poison, replayed, was paid once",
            [(d.type, d.amount_cents) for d in replayed]
            == [("PaymentCompleted", seen.fixed_amount_cents)],
            ", ".join(f"{d.type} {d.amount_cents}" for d in replayed)
            or "no decision after the replay",
        ),
    ]
