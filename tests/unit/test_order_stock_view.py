"""The order service's stock view answers a stock check as inventory would."""

from __future__ import annotations

from kafkalab.events.serde import Event
from kafkalab.services.order.stock_view import StockView


def level(sku: str, available: int) -> Event:
    value = {"sku": sku, "available": available, "reserved": 0, "updated_at": 0}
    return Event("stock", 0, 0, sku, "StockLevel", value)


def test_the_latest_level_per_sku_decides_and_unknown_skus_are_missing() -> None:
    view = StockView()
    view.apply(level("SKU-MUG", 1))
    view.apply(level("SKU-LAPTOP", 4))
    view.apply(level("SKU-MUG", 3))  # a later level replaces the earlier one
    assert view.missing([{"sku": "SKU-MUG", "quantity": 3}]) == []
    assert view.missing([{"sku": "SKU-MUG", "quantity": 4}]) == ["SKU-MUG"]
    assert view.missing(
        [{"sku": "SKU-NOPE", "quantity": 1}, {"sku": "SKU-LAPTOP", "quantity": 1}]
    ) == ["SKU-NOPE"]
    assert len(view) == 2


def test_lines_of_one_sku_are_added_up_before_they_are_compared() -> None:
    view = StockView()
    view.apply(level("SKU-MUG", 3))
    two_lines = [{"sku": "SKU-MUG", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 2}]
    assert view.missing(two_lines) == ["SKU-MUG"]


def test_records_other_than_stock_levels_change_nothing() -> None:
    view = StockView()
    view.apply(Event("stock", 0, 0, "SKU-MUG", "SomethingElse", {"sku": "SKU-MUG"}))
    assert len(view) == 0
