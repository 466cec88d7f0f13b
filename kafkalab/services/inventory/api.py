"""The inventory service's HTTP bodies as pydantic models: what `/docs` shows a learner."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Level(BaseModel):
    available: int = Field(description="units that can still be reserved")
    reserved: int = Field(description="units held for orders not paid yet")


class SkuLevel(Level):
    sku: str = Field(examples=["SKU-MUG"])


class Stock(BaseModel):
    stock: dict[str, Level] = Field(description="every SKU's level, by SKU")


class RestockBody(BaseModel):
    quantity: int = Field(ge=1, examples=[25], description="units delivered")


class ReservationItem(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class ReservationView(BaseModel):
    order_id: str
    status: str = Field(description="reserved, expired, committed, released or rejected")
    user_id: str | None = None
    items: list[ReservationItem] | None = None
    expires_at: int | None = Field(default=None, description="epoch milliseconds")
