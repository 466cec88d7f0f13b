"""Lesson 13's check: each answer went to the request with the same correlation id, the slow
one timed out, and its late reply was dropped instead of answering anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, expect

TIMEOUT = "timeout"


@dataclass
class Asked:
    """One stock check as the requester saw it."""

    correlation_id: str
    sku: str
    quantity: int
    expected: str  # "available", "unavailable" or "timeout" (the replier is slow for this one)
    outcome: str  # what the requester got: "available", "unavailable" or "timeout"
    reply_id: str | None = None  # correlation id carried by the reply it was handed


@dataclass
class Seen:
    timeout: float  # seconds the requester waited for each reply
    asked: list[Asked]
    late: list[str] = field(default_factory=list)  # replies that came when nobody waited
    replies: list[str] = field(default_factory=list)  # correlation ids on the reply topic


def check(seen: Seen) -> list[Check]:
    answered = [a for a in seen.asked if a.expected != TIMEOUT]
    slow = [a for a in seen.asked if a.expected == TIMEOUT]
    mismatched = [
        f"{a.sku}×{a.quantity}: {a.outcome}"
        for a in answered
        if a.reply_id != a.correlation_id or a.outcome != a.expected
    ]
    not_timed_out = [a.sku for a in slow if a.outcome != TIMEOUT]
    slow_ids = {a.correlation_id for a in slow}
    wrongly_late = sorted(set(seen.late) - slow_ids)
    missing = sorted(
        a.correlation_id[:8] for a in seen.asked if a.correlation_id not in seen.replies
    )
    return [
        expect(
            "replies matched by correlation id",
            bool(answered) and not mismatched,
            f"{len(answered)} requests in flight together, each got its own answer"
            if not mismatched
            else f"wrong answer for: {', '.join(mismatched)}",
        ),
        expect(
            "slow replier hit the timeout",
            bool(slow) and not not_timed_out,
            f"no reply within {seen.timeout:g} s → reported as a timeout"
            if slow and not not_timed_out
            else f"not reported as a timeout: {', '.join(not_timed_out) or 'no slow request'}",
        ),
        expect(
            "late reply dropped",
            bool(slow_ids) and slow_ids <= set(seen.late) and not wrongly_late,
            f"{len(seen.late)} late reply arrived after its request gave up, and was ignored"
            if not wrongly_late and slow_ids <= set(seen.late)
            else f"late: {len(seen.late)}, expected the {len(slow_ids)} slow one(s) only",
        ),
        expect(
            "every request answered on the reply topic",
            bool(seen.asked) and not missing,
            f"{len(seen.replies)} replies for {len(seen.asked)} requests"
            if not missing
            else f"no reply at all for: {', '.join(missing)}",
        ),
    ]
