"""Lesson 11's check: every order came out enriched from the latest profile, no address in
clear left the users table, and the broker's log cleaner really compacted that table's topic."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kafkalab.services.notification.messages import mask_email
from kafkalab.verdict import Check, expect

# What the enricher must add to each order.
ADDED_FIELDS = ("customer_name", "email_masked", "phone_masked")


@dataclass
class Person:
    """One version of a user profile as the demo wrote it to the users topic (in clear)."""

    user_id: str
    name: str
    email: str
    phone: str


@dataclass
class Enriched:
    """One record read back from the enriched topic."""

    order_id: str
    user_id: str
    fields: dict[str, Any]
    raw: str  # the value bytes as text: what anyone reading the topic would see


@dataclass
class Kept:
    """One record of the users topic as read back from offset 0 after the cleaner's turn."""

    offset: int
    user_id: str
    name: str
    email: str


@dataclass
class Seen:
    orders: dict[str, str]  # order id → user id, as produced to the orders topic
    latest: list[Person]  # the last profile per user when the orders were joined
    superseded: list[Person]  # earlier versions of those profiles (also PII)
    enriched: list[Enriched] = field(default_factory=list)
    written: list[Person] = field(default_factory=list)  # every profile written, in order
    log: list[Kept] = field(default_factory=list)  # the users topic read back from offset 0
    waited_s: float = 0.0  # how long the demo waited for the cleaner


def _compact(text: str) -> str:
    """Without spaces, dashes, brackets and a leading "+": how a number may be rewritten."""
    return re.sub(r"[\s\-()+]", "", text)


def _leaks(seen: Seen) -> list[str]:
    """`order id: what leaked` for every clear email or phone number found in an output."""
    leaks = []
    for record in seen.enriched:
        compact = _compact(record.raw)
        for person in seen.latest + seen.superseded:
            if person.email.lower() in record.raw.lower():
                leaks.append(f"{record.order_id}: {person.email}")
            if _compact(person.phone) in compact:
                leaks.append(f"{record.order_id}: {person.phone}")
    return leaks


def check(seen: Seen) -> list[Check]:
    latest = {p.user_id: p for p in seen.latest}
    out_ids = sorted(r.order_id for r in seen.enriched)
    incomplete = sorted(
        r.order_id for r in seen.enriched if not all(r.fields.get(f) for f in ADDED_FIELDS)
    )
    stale = sorted(
        r.order_id
        for r in seen.enriched
        if (person := latest.get(r.user_id)) is None
        or r.fields.get("customer_name") != person.name
        or r.fields.get("email_masked") != mask_email(person.email)
    )
    leaks = _leaks(seen)
    missing = sorted(set(seen.orders) - set(out_ids))
    twice = sorted({i for i in out_ids if out_ids.count(i) > 1})
    return [
        expect(
            "every order enriched exactly once",
            out_ids == sorted(seen.orders),
            f"{len(out_ids)} enriched records for {len(seen.orders)} orders"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; twice {', '.join(twice)}" if twice else ""),
        ),
        expect(
            "profile fields added",
            bool(seen.enriched) and not incomplete,
            f"{', '.join(ADDED_FIELDS)} on all {len(seen.enriched)} records"
            if not incomplete
            else f"missing or empty on: {', '.join(incomplete)}",
        ),
        expect(
            "joined with the latest profile",
            bool(seen.enriched) and not stale,
            "names and masked emails are those of each user's last profile"
            if not stale
            else f"old or wrong profile on: {', '.join(stale)}",
        ),
        expect(
            "no clear PII in the output",
            not leaks,
            "no email address or phone number in clear"
            if not leaks
            else f"leaked: {', '.join(leaks[:5])}",
        ),
        _compacted(seen),
    ]


def _compacted(seen: Seen) -> Check:
    """The broker's log cleaner, judged on the users topic read back from offset 0: every
    superseded profile is gone, and every user's last one is still there."""
    name = "compaction kept only the last value per key"
    last = {p.user_id: p for p in seen.written}  # a later write of a key replaces an earlier one
    superseded = [p for p in seen.written if p != last[p.user_id]]
    left = {(k.user_id, k.name, k.email): k.offset for k in seen.log}
    stale = [
        f"{p.user_id} '{p.name}' at offset {left[(p.user_id, p.name, p.email)]}"
        for p in superseded
        if (p.user_id, p.name, p.email) in left
    ]
    lost = [
        f"{p.user_id} '{p.name}'" for p in last.values() if (p.user_id, p.name, p.email) not in left
    ]
    if not seen.written or not superseded:
        return expect(name, False, "no key was written twice: there was nothing to compact")
    if stale:
        return expect(
            name,
            False,
            f"still on the log after {seen.waited_s:.1f} s: {', '.join(stale)} "
            "(the cleaner did not compact it: is cleanup.policy compact?)",
        )
    if lost:
        return expect(name, False, f"the last value is gone for {', '.join(lost)}")
    offsets = ", ".join(str(k.offset) for k in seen.log)
    return expect(
        name,
        True,
        f"{len(seen.written)} profiles written → {len(seen.log)} on the log (offsets {offsets}) "
        f"{seen.waited_s:.1f} s after the segment closed; gone: "
        + ", ".join(f"{p.user_id} '{p.name}'" for p in superseded),
    )
