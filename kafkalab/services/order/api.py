"""The order service's HTTP bodies as pydantic models: what `/docs` shows a learner.

`requests.py` still validates what arrives, so a bad body gets one sentence, not a list.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kafkalab.services.order.requests import MAX_LINES, MAX_QUANTITY
from kafkalab.services.products import PRODUCTS


class OrderLine(BaseModel):
    sku: str = Field(examples=["SKU-MUG"], description="one of " + ", ".join(PRODUCTS))
    quantity: int = Field(ge=1, le=MAX_QUANTITY, examples=[2])


class OrderBody(BaseModel):
    """Prices come from the catalogue, never from the client."""

    items: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)
    card_number: str = Field(
        examples=["4242 4242 4242 4242"], description="12 to 19 digits; only ****1234 is kept"
    )


class OrderAccepted(BaseModel):
    order_id: str
    status: str = Field(examples=["CREATED"])


class OutOfStock(BaseModel):
    error: str
    missing_skus: list[str]


class Item(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class HistoryEntry(BaseModel):
    from_status: str | None
    to_status: str
    reason: str | None
    at: int = Field(description="epoch milliseconds")
    event_id: str


class OrderView(BaseModel):
    """The order as this replica's view of `order-events` has it."""

    order_id: str
    user_id: str
    status: str = Field(examples=["CONFIRMED"])
    items: list[Item]
    total_cents: int
    card_masked: str = Field(examples=["****4242"])
    created_at: int = Field(description="epoch milliseconds")
    history: list[HistoryEntry]
