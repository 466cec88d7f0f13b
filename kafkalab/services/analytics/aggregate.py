"""The arithmetic of the analytics service, free of quixstreams: unit-tested on its own.

The pipeline (app.py) turns each event into a *fact* — a small dict of numbers that window
sums can add up — and turns each window's sums back into AnalyticsWindow records. Facts are
plain JSON-able dicts because they travel through a quixstreams repartition topic and live in
its state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

WINDOW_MS = 60_000  # tumbling windows, and the length of the hopping ones
HOP_MS = 10_000  # a hopping window starts every 10 s
# How late (in event time) a record may arrive and still count. Re-keying merges 6 source
# partitions into one stream, so when the app catches up on a backlog one partition can run
# minutes ahead of another; with `.current()` a long grace costs only a few more open windows
# in the state store, never a later result.
GRACE_MS = 5 * 60_000

TUMBLING = "tumbling-60s"
HOPPING = "hopping-60s/10s"
RUNNING = "running"  # since the app first started (kept in a state store)

ORDERS_COUNT = "orders_count"
REVENUE_CENTS = "revenue_cents"
CONVERSION_RATE = "conversion_rate"
PAYMENT_SUCCESS_RATE = "payment_success_rate"
ORDERS_TOTAL = "orders_total"
REVENUE_TOTAL_CENTS = "revenue_total_cents"

HEADER_TYPE = "event_type"
Headers = Sequence[tuple[str, bytes | str | None]] | None


@dataclass(frozen=True)
class WindowResult:
    """One AnalyticsWindow record (keyed by `metric` on the `analytics` topic)."""

    metric: str
    window: str
    window_start: int
    window_end: int
    value: float
    count: int

    def as_value(self) -> dict[str, Any]:
        return asdict(self)


def event_type(headers: Headers, value: dict[str, Any] | None) -> str:
    """The record type: kafkalab's `event_type` header, else guessed from the fields (for
    records written by something other than a kafkalab service)."""
    for name, raw in headers or ():
        if name == HEADER_TYPE and raw is not None:
            return raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    fields = set(value or {})
    if "to_status" in fields:
        return "OrderStatusChanged"
    if "total_cents" in fields:
        return "OrderCreated"
    if "payment_id" in fields:
        return "PaymentCompleted"
    if {"reason", "amount_cents"} <= fields:
        return "PaymentFailed"
    return "unknown"


def order_fact(record_type: str, value: dict[str, Any] | None) -> dict[str, int] | None:
    """created/confirmed/revenue for an order event; None for the events analytics ignores."""
    if value is None:
        return None
    if record_type == "OrderCreated":
        return {"created": 1, "confirmed": 0, "revenue_cents": int(value["total_cents"])}
    if record_type == "OrderStatusChanged" and value.get("to_status") == "CONFIRMED":
        return {"created": 0, "confirmed": 1, "revenue_cents": 0}
    return None


def payment_fact(record_type: str, value: dict[str, Any] | None) -> dict[str, int] | None:
    """completed/failed for a payment outcome; None for anything else on the topic."""
    if value is None:
        return None
    if record_type == "PaymentCompleted":
        return {"completed": 1, "failed": 0}
    if record_type == "PaymentFailed":
        return {"completed": 0, "failed": 1}
    return None


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by (undefined, not zero)."""
    return part / whole if whole else None


def order_window_results(window: dict[str, Any]) -> list[WindowResult]:
    """A tumbling window of order facts (`start`, `end`, `created`, `confirmed`,
    `revenue_cents`) as orders_count, revenue_cents and conversion_rate records.

    Nothing is emitted for a window without created orders (only confirmations): its count
    says nothing new and its conversion is undefined. Conversion is confirmed ÷ created within
    the window, so an order created just before a boundary and confirmed just after it makes
    one window read low and the next read high (even above 1): the running rate is the
    steadier number.
    """
    start, end = int(window["start"]), int(window["end"])
    created, confirmed = int(window["created"]), int(window["confirmed"])
    if not created:
        return []
    conversion = ratio(confirmed, created)
    assert conversion is not None
    return [
        WindowResult(ORDERS_COUNT, TUMBLING, start, end, float(created), created),
        WindowResult(REVENUE_CENTS, TUMBLING, start, end, float(window["revenue_cents"]), created),
        WindowResult(CONVERSION_RATE, TUMBLING, start, end, conversion, created),
    ]


def hopping_results(window: dict[str, Any]) -> list[WindowResult]:
    """A hopping window's order count (`start`, `end`, `value`) as one orders_count record."""
    count = int(window["value"])
    return [
        WindowResult(
            ORDERS_COUNT, HOPPING, int(window["start"]), int(window["end"]), float(count), count
        )
    ]


def payment_window_results(window: dict[str, Any]) -> list[WindowResult]:
    """A tumbling window of payment facts (`completed`, `failed`) as payment_success_rate,
    whose count is the number of payment outcomes in the window."""
    completed, failed = int(window["completed"]), int(window["failed"])
    rate = ratio(completed, completed + failed)
    if rate is None:
        return []
    return [
        WindowResult(
            PAYMENT_SUCCESS_RATE,
            TUMBLING,
            int(window["start"]),
            int(window["end"]),
            rate,
            completed + failed,
        )
    ]


@dataclass(frozen=True)
class RunningTotals:
    """Order totals since the app first started: the value of the running-totals state store.

    first_ms/last_ms are the earliest/latest event time seen, reported as the "window".
    """

    created: int = 0
    confirmed: int = 0
    revenue_cents: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @classmethod
    def from_state(cls, stored: dict[str, Any] | None) -> RunningTotals:
        return cls(**stored) if stored else cls()

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, fact: dict[str, int], timestamp_ms: int) -> RunningTotals:
        return RunningTotals(
            created=self.created + fact["created"],
            confirmed=self.confirmed + fact["confirmed"],
            revenue_cents=self.revenue_cents + fact["revenue_cents"],
            first_ms=timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms),
            last_ms=timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms),
        )

    def results(self) -> list[WindowResult]:
        """orders_total, revenue_total_cents and (once an order exists) conversion_rate."""
        start, end = self.first_ms or 0, self.last_ms or 0
        out = [
            WindowResult(ORDERS_TOTAL, RUNNING, start, end, float(self.created), self.created),
            WindowResult(
                REVENUE_TOTAL_CENTS, RUNNING, start, end, float(self.revenue_cents), self.created
            ),
        ]
        conversion = ratio(self.confirmed, self.created)
        if conversion is not None:
            out.append(WindowResult(CONVERSION_RATE, RUNNING, start, end, conversion, self.created))
        return out
