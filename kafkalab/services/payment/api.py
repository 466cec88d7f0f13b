"""The payment service's HTTP bodies as pydantic models: what `/docs` shows a learner."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PaymentView(BaseModel):
    order_id: str
    user_id: str
    amount_cents: int
    outcome: str = Field(examples=["completed"])
    attempts: int


class BalanceView(BaseModel):
    user_id: str
    balance_cents: int = Field(description="the balance on the `users` table")
    spent_cents: int = Field(description="what payment has charged since")
    available_cents: int


class GatewayBurstBody(BaseModel):
    seconds: float = Field(ge=0, le=3600, examples=[10])
    failure_rate: float = Field(default=1.0, ge=0, le=1)


class GatewayBurst(BaseModel):
    replica: int
    seconds: float
    failure_rate: float
    circuit: str = Field(examples=["closed"])
