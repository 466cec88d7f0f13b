"""Lesson 17's check: what the dashboard shows is what the analytics topic says.

The demo reads the `analytics` topic itself and works out each figure with the topic's own
rule — for a running total the record with the highest offset (one metric = one key = one
partition, so offsets order its updates); for a per-minute figure the newest window, and in it
the highest offset (analytics re-writes a window each second it changed) — then compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect

FIGURES = ("orders_total", "orders_per_min", "revenue_per_min_cents", "payment_success_rate")


@dataclass(frozen=True)
class Record:
    """One AnalyticsWindow record as read from the topic."""

    partition: int
    offset: int
    metric: str
    window: str
    window_start: int
    value: float


@dataclass
class Seen:
    placed: int  # orders the demo placed that the order service accepted (201)
    wanted: int  # orders the demo tried to place
    total_before: float | None  # orders_total on the topic before the demo placed any
    records: list[Record]  # the analytics topic, read right after the dashboard's snapshot
    dashboard: dict[str, float | None]  # the snapshot's figures, by FIGURES name
    same_offsets: bool  # the topic did not move between the snapshot and our read


def latest(records: list[Record], metric: str, window: str) -> float | None:
    """The topic's current value of (metric, window): newest window, then highest offset."""
    mine = [r for r in records if r.metric == metric and r.window == window]
    if not mine:
        return None
    if window == "running":  # one record per update, all on the metric's partition
        return max(mine, key=lambda r: r.offset).value
    return max(mine, key=lambda r: (r.window_start, r.offset)).value


def from_topic(records: list[Record]) -> dict[str, float | None]:
    return {
        "orders_total": latest(records, "orders_total", "running"),
        "orders_per_min": latest(records, "orders_count", "tumbling-60s"),
        "revenue_per_min_cents": latest(records, "revenue_cents", "tumbling-60s"),
        "payment_success_rate": latest(records, "payment_success_rate", "tumbling-60s"),
    }


def check(seen: Seen) -> list[Check]:
    topic = from_topic(seen.records)
    after = topic["orders_total"]
    counted = (after or 0) - (seen.total_before or 0)
    checks = [
        equal("every order accepted", seen.wanted, seen.placed),
        expect(
            "analytics counted the demo's orders",
            after is not None and counted >= seen.placed > 0,
            f"orders_total {seen.total_before or 0:.0f} → {after or 0:.0f} (+{counted:.0f}) for {seen.placed} placed",
        ),
        expect(
            "dashboard and topic read at the same point",
            seen.same_offsets,
            "no analytics record arrived in between"
            if seen.same_offsets
            else "the topic moved while comparing",
        ),
    ]
    for name in FIGURES:
        shown = seen.dashboard.get(name)
        checks.append(
            expect(
                f"dashboard {name} = topic",
                shown is not None and shown == topic[name],
                f"dashboard {shown}, topic {topic[name]}",
            )
        )
    return checks
