"""Lesson 1's check: one order's events came from all six services, each after its cause.

"After" is judged on what the broker stores, not on the order the demo prints: two records on
the same partition by their offsets (the broker's own append order); records on different
topics by their timestamps (CreateTime, stamped by each service's producer when it sent the
record — all on this machine's clock, so no tolerance beyond a tie in the same millisecond).
Analytics' totals carry the timestamp of the event they counted (quixstreams passes it on), so
for them a tie is the rule, and what is judged is that they link to an input of this order.
"""

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
    """One event of the order's story as it was read back from its topic."""

    service: str  # the `service` header: who wrote it
    event_type: str
    event_id: str
    cause: str  # the event it answers (causation_id header; for analytics, the input it counts)
    topic: str
    partition: int
    offset: int
    timestamp_ms: int  # the record's timestamp on the broker

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass
class Seen:
    order_status: str | None
    steps: list[Step]  # in any order: the check orders them by what the broker recorded


def after(effect: Step, cause: Step) -> bool:
    """Did the broker record `effect` after `cause`? Same partition: by offset; else by time."""
    if (effect.topic, effect.partition) == (cause.topic, cause.partition):
        return effect.offset > cause.offset
    return effect.timestamp_ms >= cause.timestamp_ms


def check(seen: Seen) -> list[Check]:
    services = {s.service for s in seen.steps}
    missing = [name for name in SERVICES if name not in services]
    by_id = {s.event_id: s for s in seen.steps}
    links = [(s, by_id[s.cause]) for s in seen.steps if s.cause in by_id]
    early = [
        f"{e.event_type} ({e.where}, {e.timestamp_ms}) before its cause "
        f"{c.event_type} ({c.where}, {c.timestamp_ms})"
        for e, c in links
        if not after(e, c)
    ]
    orphans = [
        s.event_type for s in seen.steps if s.service == "analytics" and s.cause not in by_id
    ]
    same = sum(1 for e, c in links if (e.topic, e.partition) == (c.topic, c.partition))
    # The first record of each milestone, by the timestamp the broker stores.
    firsts = {
        t: min((s.timestamp_ms for s in seen.steps if s.event_type == t), default=None)
        for t in STORY
    }
    absent = [t for t, at in firsts.items() if at is None]
    out_of_order = [
        f"{a} at {firsts[a]} after {b} at {firsts[b]}"
        for a, b in zip(STORY, STORY[1:], strict=False)
        if not absent and (firsts[a] or 0) > (firsts[b] or 0)
    ]
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
            bool(links) and not early and not orphans,
            f"{len(links)} cause → effect links hold on the broker: {same} by offset on one "
            f"partition, {len(links) - same} by record timestamp across topics"
            if links and not early and not orphans
            else "; ".join(early + [f"{t} with no input of this order" for t in orphans])
            or "no event names a cause that was read back",
        ),
        expect(
            "the story in causal order",
            not absent and not out_of_order,
            " → ".join(STORY)
            if not absent and not out_of_order
            else (f"missing: {', '.join(absent)}" if absent else "; ".join(out_of_order)),
        ),
    ]
