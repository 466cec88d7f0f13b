"""Lesson 11's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

import json
from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(11), "check")
Enriched, Kept, Person, Seen, check = (
    check_module.Enriched,
    check_module.Kept,
    check_module.Person,
    check_module.Seen,
    check_module.check,
)
COMPACTED = "compaction kept only the last value per key"

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
        enriched=[
            record("o-1", "u-1", "Ada L.", "l***@example.org", "+44 ******0177"),
            record("o-2", "u-2", "Bob", "b***@example.net", "+1 ******0142"),
        ],
        written=[OLD, BOB, NEW],
        # Read back after the cleaner ran: offset 0 (OLD) is gone, offsets are not renumbered.
        log=[kept(1, BOB), kept(2, NEW)],
        waited_s=1.2,
    )


def kept(offset: int, person: Any) -> object:
    return Kept(offset, person.user_id, person.name, person.email)


def detail(seen: object, name: str) -> str:
    return next(c.detail for c in check(seen) if c.name == name)


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


def test_the_compacted_log_passes_with_its_gaps_named() -> None:
    assert detail(good(), COMPACTED) == (
        "3 profiles written → 2 on the log (offsets 1, 2) 1.2 s after the segment closed; "
        "gone: u-1 'Ada'"
    )


def test_a_log_the_cleaner_never_touched_fails() -> None:
    """What a `cleanup.policy=delete` topic (or a cleaner that has not run) reads back as."""
    seen = good()
    seen.log = [kept(0, OLD), kept(1, BOB), kept(2, NEW)]
    seen.waited_s = 20.3
    assert failing(check(seen)) == {COMPACTED}
    assert detail(seen, COMPACTED) == (
        "still on the log after 20.3 s: u-1 'Ada' at offset 0 "
        "(the cleaner did not compact it: is cleanup.policy compact?)"
    )


def test_a_lost_last_value_fails() -> None:
    seen = good()
    seen.log = [kept(1, BOB)]
    assert failing(check(seen)) == {COMPACTED}
    assert detail(seen, COMPACTED) == "the last value is gone for u-1 'Ada L.'"


def test_nothing_to_compact_fails() -> None:
    """A demo that never wrote a key twice proves nothing about compaction."""
    seen = good()
    seen.written, seen.log = [OLD, BOB], [kept(0, OLD), kept(1, BOB)]
    assert failing(check(seen)) == {COMPACTED}
