"""Lesson 1's check: one order's events came from all six services, each after its cause."""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect

SERVICES = ("user", "order", "inventory", "payment", "notification", "analytics")
# Milestones of the happy path, each caused (directly or through others) by the one before:
# the order is confirmed once the stock is committed, and the confirmation is what notifies.
STORY = (
    "UserRegistered",
    "UserLoggedIn",
    "OrderCreated",
    "InventoryReserved",
    "PaymentCompleted",
    "StockCommitted",
    "NotificationSent",
)


@dataclass
class Step:
    """One event of the order's story, in the order the demo printed it."""

    service: str  # the `service` header: who wrote it
    event_type: str
    event_id: str
    cause: str  # the event it answers (causation_id header; for analytics, the input it counts)


@dataclass
class Seen:
    order_status: str | None
    steps: list[Step]


def check(seen: Seen) -> list[Check]:
    services = {s.service for s in seen.steps}
    missing = [name for name in SERVICES if name not in services]
    position = {s.event_id: n for n, s in enumerate(seen.steps)}
    early = [
        f"{s.event_type} before its cause"
        for n, s in enumerate(seen.steps)
        if s.cause in position and position[s.cause] > n
    ]
    orphans = [
        s.event_type for s in seen.steps if s.service == "analytics" and s.cause not in position
    ]
    firsts = [next((n for n, s in enumerate(seen.steps) if s.event_type == t), -1) for t in STORY]
    story_ok = -1 not in firsts and firsts == sorted(firsts)
    return [
        equal("the order ends CONFIRMED", "CONFIRMED", seen.order_status),
        expect(
            "events from each of the six services",
            not missing,
            f"{len(seen.steps)} events from {', '.join(s for s in SERVICES if s in services)}"
            if not missing
            else f"nothing from {', '.join(missing)}",
        ),
        expect(
            "every event after its cause",
            not early and not orphans,
            f"{sum(1 for s in seen.steps if s.cause in position)} cause → effect links hold"
            if not early and not orphans
            else "; ".join(early + [f"{t} with no input of this order" for t in orphans]),
        ),
        expect(
            "the story in causal order",
            story_ok,
            " → ".join(STORY) if story_ok else _story_problem(firsts),
        ),
    ]


def _story_problem(firsts: list[int]) -> str:
    absent = [t for t, n in zip(STORY, firsts, strict=True) if n < 0]
    if absent:
        return f"missing: {', '.join(absent)}"
    seen_order = [t for _, t in sorted(zip(firsts, STORY, strict=True))]
    return f"seen in this order: {' → '.join(seen_order)}"
