"""The analytics arithmetic without quixstreams or a broker."""

from __future__ import annotations

import pytest

from kafkalab.services.analytics.aggregate import (
    CONVERSION_RATE,
    HOPPING,
    ORDERS_COUNT,
    ORDERS_TOTAL,
    PAYMENT_SUCCESS_RATE,
    REVENUE_CENTS,
    REVENUE_TOTAL_CENTS,
    RUNNING,
    TUMBLING,
    RunningTotals,
    WindowResult,
    event_type,
    hopping_results,
    order_fact,
    order_window_results,
    payment_fact,
    payment_window_results,
    ratio,
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
