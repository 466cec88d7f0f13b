"""Lesson 11's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

import json

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(11), "check")
Enriched, Person, Seen, check = (
    check_module.Enriched,
    check_module.Person,
    check_module.Seen,
    check_module.check,
)

OLD = Person("u-1", "Ada", "ada@example.com", "+44 7700 900101")
NEW = Person("u-1", "Ada L.", "lovelace@example.org", "+44 7700 900177")
BOB = Person("u-2", "Bob", "bob@example.net", "+1 202 555 0142")


def record(order_id: str, user_id: str, name: str, email: str, phone: str) -> object:
    fields = {
        "order_id": order_id,
        "user_id": user_id,
        "customer_name": name,
        "email_masked": email,
        "phone_masked": phone,
    }
    return Enriched(order_id, user_id, fields, json.dumps(fields))


def good() -> object:
    return Seen(
        orders={"o-1": "u-1", "o-2": "u-2"},
        latest=[NEW, BOB],
        superseded=[OLD],
        profile_records=3,
        table_size=2,
        enriched=[
            record("o-1", "u-1", "Ada L.", "l***@example.org", "+44 ******0177"),
            record("o-2", "u-2", "Bob", "b***@example.net", "+1 ******0142"),
        ],
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_missing_order_fails() -> None:
    seen = good()
    seen.enriched.pop()
    assert failing(check(seen)) == {"every order enriched exactly once"}


def test_an_order_enriched_twice_fails() -> None:
    seen = good()
    seen.enriched.append(seen.enriched[0])
    assert failing(check(seen)) == {"every order enriched exactly once"}


def test_a_missing_field_fails() -> None:
    seen = good()
    seen.enriched[1] = record("o-2", "u-2", "Bob", "b***@example.net", "")
    assert failing(check(seen)) == {"profile fields added"}


def test_the_superseded_profile_fails() -> None:
    seen = good()
    seen.enriched[0] = record("o-1", "u-1", "Ada", "a***@example.com", "+44 ******0101")
    assert failing(check(seen)) == {"joined with the latest profile"}


def test_a_clear_email_fails() -> None:
    seen = good()
    seen.enriched[1] = record("o-2", "u-2", "Bob", "b***@example.net", "+1 ******0142")
    seen.enriched[1].raw += ' {"debug": "BOB@example.net"}'
    assert failing(check(seen)) == {"no clear PII in the output"}


def test_an_old_phone_number_rewritten_fails() -> None:
    seen = good()
    seen.enriched[0].raw += ' "+44-7700-900101"'
    assert failing(check(seen)) == {"no clear PII in the output"}


def test_a_table_that_kept_every_version_fails() -> None:
    seen = good()
    seen.table_size = 3
    assert failing(check(seen)) == {"table keeps the last value per key"}
