"""Validation and pricing of `POST /orders` bodies: pure functions, one sentence per problem.

Prices come from the shared catalogue, never from the client; the card number is reduced to
its last four digits here, at the edge, so the full number never reaches an event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kafkalab.services.products import PRODUCTS

MAX_LINES = 50
MAX_QUANTITY = 1000
_CARD_SEPARATORS = re.compile(r"[ -]")


class InvalidOrder(ValueError):
    """The body cannot be accepted; the message is one sentence meant for the client."""


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents

    def as_record(self) -> dict[str, Any]:
        """The OrderItem record the Avro schemas share."""
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
        }


@dataclass(frozen=True)
class OrderRequest:
    lines: tuple[OrderLine, ...]
    card_masked: str
    card_number: str = field(default="", repr=False)
    """The clear digits, only to be sealed for payment; never logged, never on a topic."""

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    def items(self) -> list[dict[str, Any]]:
        return [line.as_record() for line in self.lines]


def parse_order(body: Any) -> OrderRequest:
    """The priced order in `body` (`{items: [{sku, quantity}], card_number}`).

    Two lines with the same SKU are merged into one, so inventory reserves each SKU once.
    """
    if not isinstance(body, dict):
        raise InvalidOrder("the body must be a JSON object with items and card_number")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise InvalidOrder("items must be a non-empty list of {sku, quantity}")
    if len(items) > MAX_LINES:
        raise InvalidOrder(f"an order holds at most {MAX_LINES} lines")
    quantities: dict[str, int] = {}
    for item in items:
        sku, quantity = _line(item)
        quantities[sku] = quantities.get(sku, 0) + quantity
    lines = tuple(
        OrderLine(sku, quantity, PRODUCTS[sku].unit_price_cents)
        for sku, quantity in quantities.items()
    )
    masked = mask_card(body.get("card_number"))
    return OrderRequest(lines, masked, _CARD_SEPARATORS.sub("", str(body["card_number"])))


def mask_card(card_number: Any) -> str:
    """`"4242 4242 4242 4242"` → `"****4242"`; raises InvalidOrder (without echoing the
    number) unless it is 12 to 19 digits, spaces and dashes allowed."""
    if not isinstance(card_number, str):
        raise InvalidOrder("card_number must be a string of 12 to 19 digits")
    digits = _CARD_SEPARATORS.sub("", card_number)
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidOrder("card_number must be a string of 12 to 19 digits")
    return "****" + digits[-4:]


def _line(item: Any) -> tuple[str, int]:
    if not isinstance(item, dict):
        raise InvalidOrder("each item must be an object {sku, quantity}")
    sku, quantity = item.get("sku"), item.get("quantity")
    if not isinstance(sku, str) or sku not in PRODUCTS:
        known = ", ".join(sorted(PRODUCTS))
        raise InvalidOrder(f"unknown SKU {sku!r}; the catalogue has {known}")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidOrder(f"quantity of {sku} must be a whole number")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidOrder(f"quantity of {sku} must be between 1 and {MAX_QUANTITY}")
    return sku, quantity
