"""The arithmetic of the analytics service, free of quixstreams: unit-tested on its own.

The pipeline (app.py) turns each event into a *fact* — a small dict of numbers that window
sums can add up — and turns each window's sums back into AnalyticsWindow records. Facts are
plain JSON-able dicts because they travel through a quixstreams repartition topic and live in
its state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
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
        # Built by hand: dataclasses.asdict deep-copies field by field, and this runs for every
        # window update (it was ~14 % of the app's CPU).
        return {
            "metric": self.metric,
            "window": self.window,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "value": self.value,
            "count": self.count,
        }


def _shallow(state: Any) -> dict[str, Any]:
    """A frozen dataclass's fields as a dict, without `asdict`'s deep copy: the values are
    never changed in place (a new StockBook copies its levels), and the state store
    serialises the dict anyway."""
    return {f.name: getattr(state, f.name) for f in fields(state)}


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
        return _shallow(self)

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


# -- inventory turnover (from the `stock` table) ------------------------------------------------

INVENTORY_TURNOVER = "inventory_turnover"


def stock_level(record_type: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A StockLevel as {sku, on_hand}; on hand is available + reserved (reserved units are still
    on the shelf). None for anything else."""
    if value is None or record_type != "StockLevel":
        return None
    return {"sku": str(value["sku"]), "on_hand": int(value["available"]) + int(value["reserved"])}


def turnover(committed: int, stock_units: int, samples: int) -> float | None:
    """Units committed ÷ average stock, the average being `stock_units` / `samples` (the shop's
    on-hand total after each stock change); None when there is no stock to divide by."""
    if samples <= 0 or stock_units <= 0:
        return None
    return committed / (stock_units / samples)


@dataclass(frozen=True)
class StockBook:
    """Every SKU's latest on-hand units, and the turnover since the app first started: the value
    of the stock state store.

    Why the `stock` table alone is enough: on-hand stock falls only when reserved units are
    committed (sold). A reservation moves units from available to reserved and a release moves
    them back, so on hand stays put; a restock raises it. So each fall of a SKU's on-hand level
    is units committed, and the levels themselves give the average — one input topic, no join
    of `inventory-events` with `stock` (which quixstreams would have to align in time).
    """

    levels: dict[str, int] | None = None
    committed: int = 0
    stock_units: int = 0
    samples: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @classmethod
    def from_state(cls, stored: dict[str, Any] | None) -> StockBook:
        return cls(**stored) if stored else cls()

    def to_state(self) -> dict[str, Any]:
        return _shallow(self)

    def add(self, level: dict[str, Any], timestamp_ms: int) -> tuple[StockBook, dict[str, int]]:
        """The book after `level` (from `stock_level`), and its fact for the windows:
        {committed: units sold by this change, stock_units: on-hand total after it, samples: 1}.
        The first level seen of a SKU is where it starts, not a sale."""
        levels = dict(self.levels or {})
        before = levels.get(level["sku"])
        levels[level["sku"]] = int(level["on_hand"])
        sold = max(0, before - int(level["on_hand"])) if before is not None else 0
        total = sum(levels.values())
        fact = {"committed": sold, "stock_units": total, "samples": 1}
        book = StockBook(
            levels=levels,
            committed=self.committed + sold,
            stock_units=self.stock_units + total,
            samples=self.samples + 1,
            first_ms=timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms),
            last_ms=timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms),
        )
        return book, fact

    def results(self) -> list[WindowResult]:
        """The running turnover (count: units committed since the start)."""
        value = turnover(self.committed, self.stock_units, self.samples)
        if value is None:
            return []
        start, end = self.first_ms or 0, self.last_ms or 0
        return [WindowResult(INVENTORY_TURNOVER, RUNNING, start, end, value, self.committed)]


def turnover_window_results(window: dict[str, Any]) -> list[WindowResult]:
    """A tumbling window of stock facts (`committed`, `stock_units`, `samples`) as one
    inventory_turnover record, whose count is the units committed in the window."""
    committed = int(window["committed"])
    value = turnover(committed, int(window["stock_units"]), int(window["samples"]))
    if value is None:
        return []
    start, end = int(window["start"]), int(window["end"])
    return [WindowResult(INVENTORY_TURNOVER, TUMBLING, start, end, value, committed)]


# -- notification delivery rate, per channel ---------------------------------------------------

DELIVERY_RATE = "notification_delivery_rate"


def delivery_metric(channel: str) -> str:
    """The AnalyticsWindow metric of one channel's rate: "notification_delivery_rate.sms"."""
    return f"{DELIVERY_RATE}.{channel}"


def channel_of(metric: str) -> str | None:
    """The channel a delivery-rate metric is about; None for any other metric."""
    prefix = f"{DELIVERY_RATE}."
    return metric[len(prefix) :] if metric.startswith(prefix) else None


def notification_fact(record_type: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """{channel, requested, sent} for a NotificationRequested (on a channel topic) or a
    NotificationSent (on `notifications`); None for anything else."""
    if value is None or record_type not in ("NotificationRequested", "NotificationSent"):
        return None
    requested = record_type == "NotificationRequested"
    return {
        "channel": str(value["channel"]),
        "requested": int(requested),
        "sent": int(not requested),
    }


def sent_fact(record_type: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A NotificationSent on `notifications` as a fact. Requests are read from the channel
    topics, where each is written once; records older than that also have a copy of each
    request on `notifications`, which must not count twice."""
    return notification_fact(record_type, value) if record_type == "NotificationSent" else None


def request_fact(record_type: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A NotificationRequested on its channel's topic as a fact."""
    return notification_fact(record_type, value) if record_type == "NotificationRequested" else None


def delivery_window_results(window: dict[str, Any], channel: str) -> list[WindowResult]:
    """A tumbling window of one channel's facts as its delivery rate (count: requests).

    Sent ÷ requested within the window: a message requested just before a boundary and sent
    just after it makes one window read low and the next high (even above 1); the running rate
    is the steadier number. Nothing is emitted for a window without requests."""
    requested, sent = int(window["requested"]), int(window["sent"])
    rate = ratio(sent, requested)
    if rate is None:
        return []
    start, end = int(window["start"]), int(window["end"])
    return [WindowResult(delivery_metric(channel), TUMBLING, start, end, rate, requested)]


@dataclass(frozen=True)
class DeliveryTotals:
    """One channel's requests and deliveries since the app first started (its state entry)."""

    requested: int = 0
    sent: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @classmethod
    def from_state(cls, stored: dict[str, Any] | None) -> DeliveryTotals:
        return cls(**stored) if stored else cls()

    def to_state(self) -> dict[str, Any]:
        return _shallow(self)

    def add(self, fact: dict[str, Any], timestamp_ms: int) -> DeliveryTotals:
        return DeliveryTotals(
            requested=self.requested + int(fact["requested"]),
            sent=self.sent + int(fact["sent"]),
            first_ms=timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms),
            last_ms=timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms),
        )

    def results(self, channel: str) -> list[WindowResult]:
        rate = ratio(self.sent, self.requested)
        if rate is None:
            return []
        start, end = self.first_ms or 0, self.last_ms or 0
        return [WindowResult(delivery_metric(channel), RUNNING, start, end, rate, self.requested)]
