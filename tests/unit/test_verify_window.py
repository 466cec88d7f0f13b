"""The checker over a window (`verify --since`): what is read, and how the window is judged.

The topics are read from the window's start, so the events before it are simply absent here:
each test builds a story with `Story` (tests/unit/test_verify.py), then keeps what a windowed
read would return — the events stamped at or after `since`, `user-events` whole, and the
analytics results just before the window — and evaluates that with `read_from_ms=since`.
"""

from __future__ import annotations

from typing import Any

from kafkalab.events import topics as t
from kafkalab.events.serde import Event
from kafkalab.observe import readback
from kafkalab.observe.verify import (
    ANALYTICS_TOTALS,
    CAUSE_LOOKBACK_MS,
    KNOWN_CAUSES,
    ONE_PAYMENT,
    TERMINAL_STATE,
    _early_cause_missing,
    _needed,
    evaluate,
)
from tests.unit.test_verify import TOTAL, Story


def windowed(story: Story, since: int) -> list[Event]:
    """What `verify(since_ms=since)` reads of the story."""
    return [
        e
        for e in story.events
        if e.timestamp_ms >= since or e.topic in (t.USER_EVENTS, t.ANALYTICS)
    ]


def running(story: Story, orders: int, at_ms: int) -> None:
    """The running totals analytics emits after applying an input stamped `at_ms`."""
    for metric, value in (("orders_total", orders), ("revenue_total_cents", orders * TOTAL)):
        record = {"metric": metric, "window": "running", "value": float(value)}
        event = story.emit(t.ANALYTICS, "AnalyticsWindow", record, None, "analytics")
        event.timestamp_ms = at_ms  # a result carries its input's timestamp
        event.partition = 0 if metric == "orders_total" else 1


def test_an_order_begun_before_the_window_and_ended_inside_it_is_no_false_violation() -> None:
    story = Story()
    early = story.created("o-early")
    since = next(story.clock)
    reserved = story.reserve("o-early", early)  # its cause is before the window
    story.change("o-early", "CREATED", "RESERVED", reserved)
    payment = story.pay("o-early", reserved)
    story.change("o-early", "RESERVED", "PAID", payment)
    committed = story.stock("StockCommitted", "o-early", payment)
    done = story.change("o-early", "PAID", "CONFIRMED", committed)
    story.notify("o-early", done, "order-confirmed", ("email", "push"))
    story.confirmed("o-new")

    report = evaluate(windowed(story, since), since_ms=since, read_from_ms=since)

    assert report.orders == 1 and report.outcomes == {"CONFIRMED": 1}
    assert [i.name for i in report.invariants if i.ok is False] == []
    assert report.invariant(KNOWN_CAUSES).checked > 0  # o-new's events were judged
    # Judged as a whole read would judge these events, its unread cause would be a ✘:
    assert evaluate(windowed(story, since), since_ms=since).invariant(KNOWN_CAUSES).ok is False


def test_a_violation_inside_the_window_is_still_caught() -> None:
    story = Story()
    story.confirmed("o-before")
    since = next(story.clock)
    story.confirmed("o-doubled")
    story.pay("o-doubled", story.events[-1])  # charged twice
    story.created("o-stuck")
    ghost = Event("x", 0, 0, None, "Ghost", {"event_id": "never-written"})
    story.reserve("o-stuck", ghost)

    report = evaluate(windowed(story, since), since_ms=since, read_from_ms=since)

    assert report.orders == 2
    assert report.invariant(ONE_PAYMENT).examples[0].startswith("o-doubled: 2 PaymentCompleted")
    assert report.invariant(TERMINAL_STATE).examples == ["o-stuck: still in flight (CREATED)"]
    [unknown] = report.invariant(KNOWN_CAUSES).examples
    assert unknown.startswith("o-stuck: InventoryReserved") and "never-written" in unknown
    assert report.passed is False


def test_analytics_in_a_window_is_judged_by_how_much_the_totals_grew() -> None:
    story = Story()
    old = story.created("o-old")
    running(story, 10, old.timestamp_ms)  # the total before the window: 10 orders ever
    since = next(story.clock)
    for order_id in ("o-1", "o-2"):
        created = story.created(order_id)
        running(story, 11 if order_id == "o-1" else 12, created.timestamp_ms)

    inv = evaluate(windowed(story, since), since_ms=since, read_from_ms=since).invariant(
        ANALYTICS_TOTALS
    )
    assert (inv.ok, inv.checked) == (True, 2), inv
    assert "grew by" in inv.detail

    running(story, 13, next(story.clock))  # one order counted that the topics do not hold
    inv = evaluate(windowed(story, since), since_ms=since, read_from_ms=since).invariant(
        ANALYTICS_TOTALS
    )
    assert inv.ok is False
    assert inv.examples[0] == "orders_total: analytics grew by 3, topics say 2"


def test_analytics_behind_on_the_window_is_named() -> None:
    story = Story()
    running(story, 10, next(story.clock))
    since = next(story.clock)
    story.created("o-1")
    story.created("o-2")  # analytics applied neither yet
    inv = evaluate(windowed(story, since), since_ms=since, read_from_ms=since).invariant(
        ANALYTICS_TOTALS
    )
    assert inv.ok is False
    assert inv.examples[0].startswith("orders_total: analytics grew by 0, topics say 2 (behind?")


def test_an_older_input_applied_inside_the_window_moves_the_cut_not_the_verdict() -> None:
    """Analytics reads order-events' partitions interleaved: an order created before the
    window can be applied after one created inside it. The totals are measured from the
    first cut where every later result is stamped later than every earlier one."""
    story = Story()
    late = story.created("o-late")  # before the window, applied late
    running(story, 10, late.timestamp_ms - 100)
    since = next(story.clock)
    first = story.created("o-1")
    second = story.created("o-2")
    running(story, 11, first.timestamp_ms)
    running(story, 12, late.timestamp_ms)  # o-late, applied after o-1
    running(story, 13, second.timestamp_ms)

    inv = evaluate(windowed(story, since), since_ms=since, read_from_ms=since).invariant(
        ANALYTICS_TOTALS
    )
    assert inv.ok is True, inv
    assert inv.detail.startswith("1 orders")  # o-2: what was applied after the cut


def test_no_analytics_results_around_the_window_are_not_judged() -> None:
    story = Story()
    since = next(story.clock)
    story.confirmed("o-1")
    inv = evaluate(windowed(story, since), since_ms=since, read_from_ms=since).invariant(
        ANALYTICS_TOTALS
    )
    assert inv.ok is None


def test_the_look_back_is_read_only_for_a_cause_missing_early_in_the_window() -> None:
    story = Story()
    stock_check = story.emit(t.INVENTORY_REPLIES, "StockCheckReplied", {"available": True})
    since = next(story.clock)
    story.emit(t.ORDER_EVENTS, "OrderCreated", {"order_id": "o-1"}, stock_check)
    window = windowed(story, since)
    assert _early_cause_missing(window, since) is True
    assert _early_cause_missing(story.events, since) is False
    later = since - CAUSE_LOOKBACK_MS  # the same events, judged from a window 30 s earlier
    assert _early_cause_missing(window, later) is False


def test_of_analytics_only_the_running_totals_are_decoded() -> None:
    assert _needed(t.ANALYTICS, b"orders_total")
    assert _needed(t.ANALYTICS, b"revenue_total_cents")
    assert not _needed(t.ANALYTICS, b"orders_count")
    assert _needed(t.PAYMENTS, b"o-1")


# -- spans: where a read starts and stops ------------------------------------------------------


class Partitions:
    """Answers the consumer calls `readback.spans` makes from a table: (topic, partition) →
    (low, high, [timestamps of offsets low..high-1])."""

    def __init__(self, table: dict[tuple[str, int], tuple[int, list[int]]]) -> None:
        self.table = table

    def list_topics(self, timeout: float) -> Any:
        class Meta:
            topics = {
                topic: type(
                    "T", (), {"partitions": {p: None for (tt, p) in self.table if tt == topic}}
                )
                for topic, _ in self.table
            }

        return Meta()

    def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
        low, stamps = self.table[(tp.topic, tp.partition)]
        return low, low + len(stamps)

    def offsets_for_times(self, tps: list[Any], timeout: float) -> list[Any]:
        out = []
        for tp in tps:
            low, stamps = self.table[(tp.topic, tp.partition)]
            found = next((low + i for i, ts in enumerate(stamps) if ts >= tp.offset), -1)
            out.append(type("TP", (), {"offset": found, "error": None})())
        return out


def test_a_window_starts_at_its_first_record_and_stops_where_asked() -> None:
    table = {
        ("order-events", 0): (0, [100, 200, 300, 400]),
        ("order-events", 1): (5, [150, 160]),  # nothing at or after 300
        ("analytics", 0): (0, [100, 250, 350]),
    }
    consumer = Partitions(table)
    assert readback.spans(consumer, ["order-events"], 300) == [  # type: ignore[arg-type]
        readback.Span("order-events", 0, 2, None)
    ]
    assert readback.spans(consumer, ["order-events"]) == [  # type: ignore[arg-type]
        readback.Span("order-events", 0, 0, None),
        readback.Span("order-events", 1, 5, None),
    ]
    # the look-back: [from, until) — it stops where the window began
    assert readback.spans(consumer, ["order-events"], 150, 300) == [  # type: ignore[arg-type]
        readback.Span("order-events", 0, 1, 2),
        readback.Span("order-events", 1, 5, 7),
    ]
    # a lead of records before the window (never before the partition's start)
    assert readback.spans(consumer, ["analytics"], 300, lead=1) == [  # type: ignore[arg-type]
        readback.Span("analytics", 0, 1, None)
    ]
    assert readback.spans(consumer, ["analytics"], 300, lead=9) == [  # type: ignore[arg-type]
        readback.Span("analytics", 0, 0, None)
    ]
    assert readback.spans(consumer, ["missing-topic"], 0) == []  # type: ignore[arg-type]
