"""Pricing and validation of POST /orders bodies, and masking of the card number."""

from __future__ import annotations

from typing import Any

import pytest

from kafkalab.services.order.requests import InvalidOrder, OrderLine, mask_card, parse_order
from kafkalab.services.products import PRODUCTS


def test_prices_come_from_the_catalogue_and_duplicate_skus_merge() -> None:
    order = parse_order(
        {
            "items": [
                {"sku": "SKU-BOOK", "quantity": 1},
                {"sku": "SKU-MUG", "quantity": 2},
                {"sku": "SKU-BOOK", "quantity": 2, "unit_price_cents": 1},  # client price ignored
            ],
            "card_number": "4242 4242 4242 4242",
        }
    )
    book, mug = PRODUCTS["SKU-BOOK"].unit_price_cents, PRODUCTS["SKU-MUG"].unit_price_cents
    assert order.lines == (OrderLine("SKU-BOOK", 3, book), OrderLine("SKU-MUG", 2, mug))
    assert order.total_cents == 3 * book + 2 * mug
    assert order.card_masked == "****4242"
    assert order.items()[0] == {"sku": "SKU-BOOK", "quantity": 3, "unit_price_cents": book}


@pytest.mark.parametrize(
    ("card", "masked"),
    [
        ("4242424242424242", "****4242"),
        ("5555-5555-5555-4444", "****4444"),
        ("123456789012", "****9012"),
    ],
)
def test_mask_card(card: str, masked: str) -> None:
    assert mask_card(card) == masked


@pytest.mark.parametrize(
    "card", [None, 4242424242424242, "", "4242", "4242x42424242424", "1" * 20, "١٢٣٤٥٦٧٨٩٠١٢"]
)
def test_bad_cards_are_refused_without_echoing_them(card: Any) -> None:
    with pytest.raises(InvalidOrder) as caught:
        mask_card(card)
    assert str(caught.value) == "card_number must be a string of 12 to 19 digits"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nope", "the body must be a JSON object"),
        ({"card_number": "4242424242424242"}, "items must be a non-empty list"),
        ({"items": [], "card_number": "4242424242424242"}, "items must be a non-empty list"),
        ({"items": ["SKU-BOOK"], "card_number": "4242424242424242"}, "each item must be an object"),
        ({"items": [{"sku": "SKU-NOPE", "quantity": 1}]}, "unknown SKU 'SKU-NOPE'"),
        ({"items": [{"sku": "SKU-BOOK", "quantity": 0}]}, "quantity of SKU-BOOK must be between"),
        ({"items": [{"sku": "SKU-BOOK", "quantity": "2"}]}, "quantity of SKU-BOOK must be a whole"),
        ({"items": [{"sku": "SKU-BOOK", "quantity": 1}]}, "card_number must be a string"),
    ],
)
def test_bad_orders_say_what_is_wrong(body: Any, message: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        parse_order(body)
    assert str(caught.value).startswith(message)


def test_catalogue_is_consistent() -> None:
    assert len(PRODUCTS) >= 8
    for sku, product in PRODUCTS.items():
        assert sku == product.sku and sku.startswith("SKU-")
        assert product.unit_price_cents > 0 and product.initial_stock > 0
