"""Lesson 11's grader: seeds a compacted users topic (some users with an older profile before
their latest) and orders carrying full card numbers, runs the learner's enricher, then reads
`orders-enriched` back from the broker: one record per order, each with its user's latest
profile, and not one seeded card number or email address in any key, value or header."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, read_all
from kafkalab.verdict import Check

USERS = 6  # users in the table (lessons.toml's questions say so too) …
MOVED = 3  # … of whom this many have an older profile written before their latest
PER_USER = 2  # orders per user
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen")
# the choices of the `versions` question in lessons.toml
ONE_EACH = "6: compaction leaves one profile per user"
EVERY = "9: every version written, the oldest first"
# Compaction only: the default segment.ms (7 days) keeps every record in the active segment,
# which the cleaner never touches, so the table reader sees every version.
TABLE = {"cleanup.policy": "compact"}


def _profile(user_id: str, tier: str, domain: str) -> dict[str, str]:
    first, last = random.choice(FIRST), random.choice(LAST)
    token = secrets.token_hex(3)  # new addresses every run: a hard-coded answer cannot pass
    return {
        "user_id": user_id,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}.{token}@{domain}",
        "tier": tier,
    }


def _card() -> str:
    return "4" + "".join(str(secrets.randbelow(10)) for _ in range(15))


def prepare(lab: Lab) -> Task:
    users = lab.topic("users", partitions=1, config=TABLE)
    orders = lab.topic("orders", partitions=3)
    user_ids = [f"u-{secrets.token_hex(3)}" for _ in range(USERS)]
    moved = user_ids[:MOVED]
    latest = {u: _profile(u, random.choice(("gold", "silver")), "example.org") for u in user_ids}
    old = {u: _profile(u, "basic", "oldmail.example") for u in moved}
    producer = lab.producer()
    for user_id, profile in old.items():  # the superseded versions first …
        producer.produce(users, key=user_id, value=json.dumps(profile).encode())
    for user_id in random.sample(user_ids, len(user_ids)):  # … then every user's latest
        producer.produce(users, key=user_id, value=json.dumps(latest[user_id]).encode())
    cards: dict[str, str] = {}
    for user_id in user_ids * PER_USER:
        order_id = f"order-{secrets.token_hex(3)}"
        cards[order_id] = _card()
        order = {
            "order_id": order_id,
            "user_id": user_id,
            "total_cents": secrets.randbelow(90_000) + 1_000,
            "card_number": cards[order_id],
        }
        producer.produce(orders, key=order_id, value=json.dumps(order).encode())
    producer.flush(30)
    return Task(
        topics={"users": users, "orders": orders, "orders-enriched": lab.topic("orders-enriched")},
        groups={"users-table": lab.group("users-table"), "enricher": lab.group("enricher")},
        private={"latest": latest, "old": old, "cards": cards},
    )


def _fields(record: Record) -> dict[str, Any]:
    try:
        value = json.loads(record.value or b"")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _enriched(out: list[Record], orders: dict[str, str], topic: str) -> Check:
    name = "every order was enriched, once"
    seen = Counter(r.text_key for r in out)
    missing = [o for o in orders if seen[o] == 0]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(orders)} orders never reached {topic} (e.g. {missing[0]}, "
            f"user {orders[missing[0]]}): enrich() found no profile for their user",
            fix="remember() must store each profile it is given in `profiles`, keyed by user id: "
            "an order whose user is not there is skipped",
        )
    extra = [k for k in seen if k not in orders]
    twice = [k for k, n in seen.items() if n > 1]
    if extra or twice:
        what = f"{extra[0]}, not a seeded order" if extra else f"{twice[0]} {seen[twice[0]]} times"
        return Check(name, False, f"{topic} holds {what}", fix="write one record per order")
    return Check(name, True, f"all {len(orders)} orders, once each")


def _latest(out: list[Record], task: Task) -> Check:
    name = "each order carries its user's latest profile"
    latest, old = task.private["latest"], task.private["old"]
    stale = []
    for record in out:
        fields = _fields(record)
        profile = latest.get(fields.get("user_id"))
        if profile is None:
            return Check(
                name,
                False,
                f"order {record.text_key} has user_id {fields.get('user_id')!r}, not its user",
                fix="copy user_id from the order",
            )
        if (fields.get("customer_name"), fields.get("tier")) != (profile["name"], profile["tier"]):
            stale.append((record.text_key, fields, profile))
    if stale:
        order, fields, profile = stale[0]
        superseded = old.get(profile["user_id"])
        was_old = superseded is not None and fields.get("customer_name") == superseded["name"]
        why = "a superseded profile" if was_old else "another profile"
        return Check(
            name,
            False,
            f"{len(stale)} of {len(out)} orders carry {why} (e.g. {order}: customer_name "
            f"{fields.get('customer_name')!r}, tier {fields.get('tier')!r}; user "
            f"{profile['user_id']}'s latest is {profile['name']!r}, {profile['tier']!r})",
            fix="the users topic holds every version of a profile in offset order, oldest first: "
            "let each record replace what `profiles` holds for its key, so the last one wins",
        )
    return Check(name, True, f"all {len(out)} with the latest name and tier")


def _no_pii(out: list[Record], task: Task, topic: str) -> Check:
    name = "no card number or email address left the service in clear"
    secrets_ = {card: "card number" for card in task.private["cards"].values()}
    for profiles in (task.private["latest"], task.private["old"]):
        secrets_.update({p["email"]: "email address" for p in profiles.values()})
    for record in out:
        parts = [("key", record.key or b""), ("value", record.value or b"")]
        parts += [(f"header {k!r}", v) for k, v in record.headers.items()]
        for where, data in parts:
            for clear, kind in secrets_.items():
                if clear.encode() in data:
                    return Check(
                        name,
                        False,
                        f"the {where} of {record.text_key} on {topic} holds the clear {kind} "
                        f"{clear}: every consumer of {topic} can read it",
                        fix="mask it before produce(): mask_card() keeps only the last four "
                        "digits, mask_email() only a first letter and the domain; and copy no "
                        "field or header that holds the clear value",
                    )
    return Check(name, True, f"{len(out)} records scanned, no clear card number or address")


def _masked(out: list[Record], task: Task) -> Check:
    name = "the masked fields are there"
    cards = task.private["cards"]
    for record in out:
        fields = _fields(record)
        card, email = str(fields.get("card_masked", "")), str(fields.get("email_masked", ""))
        if not card.endswith(cards[record.text_key][-4:]) or not email:
            return Check(
                name,
                False,
                f"order {record.text_key} has card_masked {card!r} and email_masked {email!r}",
                fix="card_masked keeps the card's last four digits; email_masked is not empty",
            )
    return Check(name, True, "card_masked ends in the card's last four digits on every order")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    topic = task.topics["orders-enriched"]
    out = read_all(lab.conn, topic)
    orders = {
        r.text_key: json.loads(r.value or b"")["user_id"]
        for r in read_all(lab.conn, task.topics["orders"])
    }
    table = read_all(lab.conn, task.topics["users"])
    checks = [_enriched(out, orders, topic)]
    ours = [r for r in out if r.text_key in orders]
    if ours:
        checks += [_latest(ours, task), _no_pii(out, task, topic), _masked(ours, task)]
    versions = Counter(r.text_key for r in table)
    truths: dict[str, Any] = {
        "stale": sum(1 for user_id in orders.values() if versions[user_id] > 1),
    }
    if len(table) == len(versions):
        truths["versions"] = ONE_EACH
    elif len(table) == sum(versions.values()) and len(table) == USERS + MOVED:
        truths["versions"] = EVERY
    return Graded(checks, truths)
