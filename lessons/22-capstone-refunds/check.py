"""Lesson 22's check: the reference refund service, SIGKILLed every 3 s, passes every check the
exercise's grader makes, and refunded each order owed a refund exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, equal


@dataclass
class Seen:
    graded: list[Check]  # the exercise grader's checks on the reference service
    owed: int  # first-wave orders paid and then cancelled
    committed: int  # first-wave refunds a read_committed reader sees
    uncommitted: int  # first-wave refunds a read_uncommitted reader sees


def check(seen: Seen) -> list[Check]:
    return [
        *seen.graded,
        equal("read_committed: one refund per order owed one", seen.owed, seen.committed),
    ]
