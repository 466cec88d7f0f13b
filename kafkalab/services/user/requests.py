"""Validation of the user service's HTTP bodies: pure functions, one clear sentence per problem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_BALANCE_CENTS = 100_000
MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")


class InvalidRequest(ValueError):
    """The body cannot be accepted; the message is one sentence meant for the client."""


@dataclass(frozen=True)
class Registration:
    email: str
    name: str
    password: str
    phone: str | None
    balance_cents: int

    def __repr__(self) -> str:  # never let a password reach a log line through repr()
        return f"Registration(email={self.email!r}, name={self.name!r}, password='***')"


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(email={self.email!r}, password='***')"


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively: `Ada@Example.com` and `ada@example.com` are one."""
    return email.strip().lower()


def parse_registration(body: Any) -> Registration:
    """The registration in `body` (`{email, name, password, phone?, balance_cents?}`)."""
    fields = _object(body, "email, name and password")
    _require(fields, ("email", "name", "password"))
    email = normalise_email(_string(fields, "email"))
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidRequest(f"email {email!r} is not a valid address")
    name = _string(fields, "name").strip()
    if not name or len(name) > 200:
        raise InvalidRequest("name must be between 1 and 200 characters")
    password = _string(fields, "password")
    if not MIN_PASSWORD_LENGTH <= len(password) <= 1024:
        raise InvalidRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    phone = fields.get("phone")
    if phone is not None:
        if not isinstance(phone, str) or not _PHONE.match(phone.strip()):
            raise InvalidRequest(
                "phone must be digits, spaces, dashes or brackets, e.g. +44 7700 900123"
            )
        phone = phone.strip()
    balance = fields.get("balance_cents", DEFAULT_BALANCE_CENTS)
    if isinstance(balance, bool) or not isinstance(balance, int) or not 0 <= balance <= 10**12:
        raise InvalidRequest("balance_cents must be a whole number of cents, 0 or more")
    return Registration(email, name, password, phone, balance)


def parse_login(body: Any) -> Credentials:
    """The credentials in `body` (`{email, password}`)."""
    fields = _object(body, "email and password")
    _require(fields, ("email", "password"))
    return Credentials(normalise_email(_string(fields, "email")), _string(fields, "password"))


def _object(body: Any, expected: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"the body must be a JSON object with {expected}")
    return body


def _require(fields: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = [name for name in names if fields.get(name) in (None, "")]
    if missing:
        raise InvalidRequest(
            f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        )


def _string(fields: dict[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value
