"""The analytics arithmetic without quixstreams or a broker."""

from __future__ import annotations

import pytest

from kafkalab.services.analytics.aggregate import (
    CONVERSION_RATE,
    HOPPING,
    INVENTORY_TURNOVER,
    ORDERS_COUNT,
    ORDERS_TOTAL,
    PAYMENT_SUCCESS_RATE,
    REVENUE_CENTS,
    REVENUE_TOTAL_CENTS,
    RUNNING,
    TUMBLING,
    DeliveryTotals,
    RunningTotals,
    StockBook,
    WindowResult,
    channel_of,
    delivery_metric,
    delivery_window_results,
    event_type,
    hopping_results,
    notification_fact,
    order_fact,
    order_window_results,
    payment_fact,
    payment_window_results,
    ratio,
    stock_level,
    turnover,
    turnover_window_results,
)


def test_event_type_comes_from_the_header() -> None:
    assert event_type([("trace_id", b"t"), ("event_type", b"OrderCreated")], {}) == "OrderCreated"
    assert event_type([("event_type", "PaymentFailed")], {}) == "PaymentFailed"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"to_status": "CONFIRMED"}, "OrderStatusChanged"),
        ({"total_cents": 1}, "OrderCreated"),
        ({"payment_id": "p", "amount_cents": 1}, "PaymentCompleted"),
        ({"reason": "insufficient_funds", "amount_cents": 1}, "PaymentFailed"),
        ({"sku": "x"}, "unknown"),
    ],
)
def test_event_type_without_header_is_guessed_from_fields(fields: dict, expected: str) -> None:
    assert event_type(None, fields) == expected


def test_order_facts() -> None:
    assert order_fact("OrderCreated", {"total_cents": 4999}) == {
        "created": 1,
        "confirmed": 0,
        "revenue_cents": 4999,
    }
    confirmed = order_fact("OrderStatusChanged", {"to_status": "CONFIRMED"})
    assert confirmed == {"created": 0, "confirmed": 1, "revenue_cents": 0}
    assert order_fact("OrderStatusChanged", {"to_status": "RESERVED"}) is None
    assert order_fact("OrderCreated", None) is None  # a tombstone
    assert order_fact("InventoryReserved", {"total_cents": 1}) is None


def test_payment_facts() -> None:
    assert payment_fact("PaymentCompleted", {}) == {"completed": 1, "failed": 0}
    assert payment_fact("PaymentFailed", {}) == {"completed": 0, "failed": 1}
    assert payment_fact("PaymentRetried", {}) is None
    assert payment_fact("PaymentCompleted", None) is None


def test_ratio_is_undefined_without_a_denominator() -> None:
    assert ratio(3, 4) == 0.75
    assert ratio(0, 4) == 0.0
    assert ratio(0, 0) is None


def test_order_window_results() -> None:
    window = {"start": 60_000, "end": 120_000, "created": 4, "confirmed": 1, "revenue_cents": 700}
    assert order_window_results(window) == [
        WindowResult(ORDERS_COUNT, TUMBLING, 60_000, 120_000, 4.0, 4),
        WindowResult(REVENUE_CENTS, TUMBLING, 60_000, 120_000, 700.0, 4),
        WindowResult(CONVERSION_RATE, TUMBLING, 60_000, 120_000, 0.25, 4),
    ]


def test_a_window_with_only_confirmations_emits_nothing() -> None:
    window = {"start": 0, "end": 60_000, "created": 0, "confirmed": 2, "revenue_cents": 0}
    assert order_window_results(window) == []


def test_hopping_results() -> None:
    assert hopping_results({"start": 10_000, "end": 70_000, "value": 3}) == [
        WindowResult(ORDERS_COUNT, HOPPING, 10_000, 70_000, 3.0, 3)
    ]


def test_payment_success_rate() -> None:
    window = {"start": 0, "end": 60_000, "completed": 3, "failed": 1}
    assert payment_window_results(window) == [
        WindowResult(PAYMENT_SUCCESS_RATE, TUMBLING, 0, 60_000, 0.75, 4)
    ]
    assert payment_window_results({"start": 0, "end": 60_000, "completed": 0, "failed": 0}) == []


def test_running_totals_accumulate_and_survive_the_state_store() -> None:
    created = {"created": 1, "confirmed": 0, "revenue_cents": 500}
    confirmed = {"created": 0, "confirmed": 1, "revenue_cents": 0}
    totals = RunningTotals.from_state(None)
    for fact, ts in [(created, 2_000), (created, 1_000), (confirmed, 3_000)]:
        # Round-trip through the stored form each time, as the pipeline does.
        totals = RunningTotals.from_state(totals.add(fact, ts).to_state())
    assert totals == RunningTotals(2, 1, 1_000, first_ms=1_000, last_ms=3_000)
    assert totals.results() == [
        WindowResult(ORDERS_TOTAL, RUNNING, 1_000, 3_000, 2.0, 2),
        WindowResult(REVENUE_TOTAL_CENTS, RUNNING, 1_000, 3_000, 1_000.0, 2),
        WindowResult(CONVERSION_RATE, RUNNING, 1_000, 3_000, 0.5, 2),
    ]


def test_running_conversion_waits_for_an_order() -> None:
    totals = RunningTotals().add({"created": 0, "confirmed": 1, "revenue_cents": 0}, 5)
    assert [r.metric for r in totals.results()] == [ORDERS_TOTAL, REVENUE_TOTAL_CENTS]


def test_window_result_matches_the_avro_record() -> None:
    import json

    from kafkalab.events.schemas import schema_text

    fields = [f["name"] for f in json.loads(schema_text("AnalyticsWindow"))["fields"]]
    assert list(WindowResult("m", "w", 0, 1, 0.5, 2).as_value()) == fields


def level(sku: str, available: int, reserved: int = 0) -> dict:
    fact = stock_level("StockLevel", {"sku": sku, "available": available, "reserved": reserved})
    assert fact is not None
    return fact


def test_stock_levels_are_on_hand_units_and_nothing_else_is_a_level() -> None:
    assert level("BOOK", 7, 3) == {"sku": "BOOK", "on_hand": 10}
    assert stock_level("StockCommitted", {"order_id": "o"}) is None


def test_turnover_counts_falls_of_on_hand_stock_as_sales() -> None:
    book = StockBook()
    steps = [
        (level("BOOK", 10), 1_000),  # first level seen: a start, not a sale
        (level("MUG", 30), 1_000),
        (level("BOOK", 8, 2), 2_000),  # reserved: on hand unchanged
        (level("BOOK", 8, 0), 3_000),  # committed: 2 sold
        (level("MUG", 29, 1), 3_500),  # reserved ...
        (level("MUG", 30, 0), 3_600),  # ... and released: not a sale
        (level("BOOK", 18, 0), 4_000),  # restocked
    ]
    facts = []
    for fact, ts in steps:
        book, window_fact = StockBook.from_state(book.to_state()).add(fact, ts)
        facts.append(window_fact)
    assert [f["committed"] for f in facts] == [0, 0, 0, 2, 0, 0, 0]
    assert [f["stock_units"] for f in facts] == [10, 40, 40, 38, 38, 38, 48]
    # 2 units sold ÷ the average on-hand total after the seven changes (252 / 7 = 36)
    assert book.results() == [
        WindowResult(INVENTORY_TURNOVER, RUNNING, 1_000, 4_000, pytest.approx(2 / 36), 2)
    ]
    window = {
        "start": 0,
        "end": 60_000,
        "committed": sum(f["committed"] for f in facts),
        "stock_units": sum(f["stock_units"] for f in facts),
        "samples": len(facts),
    }
    assert turnover_window_results(window) == [
        WindowResult(INVENTORY_TURNOVER, TUMBLING, 0, 60_000, pytest.approx(2 / 36), 2)
    ]


def test_turnover_is_undefined_without_stock() -> None:
    assert turnover(5, 0, 3) is None and turnover(5, 10, 0) is None
    assert StockBook().results() == []
    empty = {"start": 0, "end": 1, "committed": 0, "stock_units": 0, "samples": 2}
    assert turnover_window_results(empty) == []


def test_delivery_rate_per_channel_is_sent_over_requested() -> None:
    requested = notification_fact("NotificationRequested", {"channel": "sms"})
    sent = notification_fact("NotificationSent", {"channel": "sms"})
    assert requested == {"channel": "sms", "requested": 1, "sent": 0}
    assert sent == {"channel": "sms", "requested": 0, "sent": 1}
    assert notification_fact("OrderCreated", {"channel": "sms"}) is None
    totals = DeliveryTotals()
    for fact, ts in [(requested, 1), (requested, 2), (sent, 3)]:
        assert fact is not None
        totals = DeliveryTotals.from_state(totals.add(fact, ts).to_state())
    metric = delivery_metric("sms")
    assert metric == "notification_delivery_rate.sms" and channel_of(metric) == "sms"
    assert channel_of(ORDERS_TOTAL) is None
    assert totals.results("sms") == [WindowResult(metric, RUNNING, 1, 3, 0.5, 2)]
    window = {"start": 0, "end": 60_000, "requested": 4, "sent": 3}
    assert delivery_window_results(window, "sms") == [
        WindowResult(metric, TUMBLING, 0, 60_000, 0.75, 4)
    ]
    assert delivery_window_results({**window, "requested": 0}, "sms") == []
    assert DeliveryTotals().results("sms") == []
