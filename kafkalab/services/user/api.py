"""The user service's HTTP bodies as pydantic models: what `/docs` shows a learner.

`requests.py` still validates what arrives, so a bad body gets one sentence, not a list.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kafkalab.services.user.requests import DEFAULT_BALANCE_CENTS, MIN_PASSWORD_LENGTH


class RegistrationBody(BaseModel):
    email: str = Field(examples=["ada@example.com"], description="compared case-insensitively")
    name: str = Field(examples=["Ada Lovelace"], min_length=1, max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, examples=["correct horse"])
    phone: str | None = Field(default=None, examples=["+44 7700 900123"])
    balance_cents: int = Field(
        default=DEFAULT_BALANCE_CENTS, ge=0, description="what payment may charge, in cents"
    )


class Registered(BaseModel):
    user_id: str


class LoginBody(BaseModel):
    email: str = Field(examples=["ada@example.com"])
    password: str = Field(examples=["correct horse"])


class LoginAnswer(BaseModel):
    token: str = Field(description="send it to the order service as Authorization: Bearer …")
    user_id: str
    expires_at: int = Field(description="epoch milliseconds")


class Channels(BaseModel):
    email: bool = True
    sms: bool = True
    push: bool = True


class PreferencesAnswer(BaseModel):
    channels: Channels
    language: str = Field(examples=["en"])
    marketing_consent: bool


class PreferencesBody(BaseModel):
    """Only the fields named change; a channel left out keeps its choice."""

    channels: dict[str, bool] | None = Field(default=None, examples=[{"sms": False}])
    language: str | None = Field(default=None, examples=["fr"])
    marketing_consent: bool | None = None
