"""Validation of the user service's bodies: each problem answered by one clear sentence."""

from __future__ import annotations

from typing import Any

import pytest

from kafkalab.services.user.requests import (
    DEFAULT_BALANCE_CENTS,
    Credentials,
    InvalidRequest,
    Registration,
    parse_login,
    parse_registration,
)

GOOD = {"email": "Ada@Example.com ", "name": " Ada Lovelace", "password": "correct-horse"}


def test_a_minimal_registration_gets_defaults_and_a_normalised_email() -> None:
    assert parse_registration(GOOD) == Registration(
        email="ada@example.com",
        name="Ada Lovelace",
        password="correct-horse",
        phone=None,
        balance_cents=DEFAULT_BALANCE_CENTS,
    )


def test_phone_and_balance_are_taken() -> None:
    form = parse_registration({**GOOD, "phone": "+44 7700 900123", "balance_cents": 0})
    assert (form.phone, form.balance_cents) == ("+44 7700 900123", 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "the body must be a JSON object with email, name and password"),
        ([GOOD], "the body must be a JSON object with email, name and password"),
        ({"name": "Ada", "password": "correct-horse"}, "missing field: email"),
        ({"name": "Ada"}, "missing fields: email, password"),
        ({**GOOD, "email": "not-an-email"}, "email 'not-an-email' is not a valid address"),
        ({**GOOD, "email": "ada@localhost"}, "email 'ada@localhost' is not a valid address"),
        ({**GOOD, "email": 42}, "email must be a string"),
        ({**GOOD, "name": "   "}, "name must be between 1 and 200 characters"),
        ({**GOOD, "password": "short"}, "password must be at least 8 characters"),
        ({**GOOD, "phone": "call me"}, "phone must be digits"),
        ({**GOOD, "balance_cents": -1}, "balance_cents must be a whole number"),
        ({**GOOD, "balance_cents": 1.5}, "balance_cents must be a whole number"),
        ({**GOOD, "balance_cents": True}, "balance_cents must be a whole number"),
    ],
)
def test_bad_registrations_say_what_is_wrong(body: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_registration(body)
    assert str(caught.value).startswith(message)


def test_login_body() -> None:
    assert parse_login({"email": " ADA@example.com", "password": "pw"}) == Credentials(
        "ada@example.com", "pw"
    )
    with pytest.raises(InvalidRequest, match="missing field: password"):
        parse_login({"email": "ada@example.com"})


def test_passwords_never_show_in_repr() -> None:
    assert "correct-horse" not in repr(parse_registration(GOOD))
    assert "secret-pw" not in repr(Credentials("a@b.co", "secret-pw"))
