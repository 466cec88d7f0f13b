"""Lesson 14's grader: seeds JSON orders keyed by user, runs the learner's quixstreams app, then
reads `big-orders` back from the broker and compares it with the output it computed itself, in
plain Python, from the orders it sent: the right orders, each once, reshaped, with its key."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from typing import Any

from kafkalab.curriculum import quix
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, committed, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
ORDERS = 30
FIELDS = ("order_id", "user_id", "total_eur", "items")
# the choices of the questions in lessons.toml
ENDS = "at the end of each partition: a dropped record is consumed and committed too"
LAST_BIG = "just past the last big order: dropped records stay uncommitted"
SAME = "the same partition p: same key, same partitioner, same partition count"
SPREAD = "any partition: the output is spread round-robin"


def _expected(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "user_id": order["user_id"],
        "total_eur": order["total_cents"] / 100,
        "items": len(order["items"]),
    }


def prepare(lab: Lab) -> Task:
    source = lab.topic("orders", partitions=PARTITIONS)
    threshold = random.randrange(40, 61) * 100  # a new threshold every run: 40 to 60 EUR
    users = [f"user-{secrets.token_hex(2)}" for _ in range(6)]
    orders = []
    for n in range(ORDERS):
        # every third order big, the others drawn from the whole range: both kinds always occur
        low = threshold if n % 3 == 0 else 300
        orders.append(
            {
                "order_id": f"o-{secrets.token_hex(3)}",
                "user_id": random.choice(users),
                "total_cents": random.randrange(low, 15_000),
                "items": [f"sku-{random.randrange(1, 9)}" for _ in range(random.randrange(1, 5))],
                "country": random.choice(["NL", "DE", "FR", "US"]),
            }
        )
    random.shuffle(orders)
    producer = lab.producer()  # murmur2, as quixstreams' producer: a key lands on one partition
    for order in orders:
        producer.produce(source, key=order["user_id"], value=json.dumps(order).encode())
    producer.flush(30)
    return Task(
        topics={"orders": source, "big-orders": lab.topic("big-orders", partitions=PARTITIONS)},
        groups={"big-orders": lab.group("big-orders")},
        params={"threshold_cents": threshold, "state_dir": str(quix.state_dir(lab))},
        private={"threshold": threshold},
    )


def _chosen(out: list[Record], sent: dict[str, dict[str, Any]], task: Task) -> Check:
    name = "big-orders holds every big order, once, and nothing else"
    threshold = task.private["threshold"]
    eur = f"{threshold / 100:.0f} EUR"
    seen = Counter(_order_id(r) for r in out)
    big = [k for k, o in sent.items() if o["total_cents"] >= threshold]
    missing = [k for k in big if seen[k] == 0]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(big)} orders of {eur} or more never reached "
            f"big-orders (e.g. {missing[0]}, {sent[missing[0]]['total_cents']} cents)",
            fix="the filter keeps the records for which its condition is true: "
            "sdf[sdf['total_cents'] >= THRESHOLD_CENTS], and no other step may drop a record",
        )
    small = [k for k in seen if k in sent and sent[k]["total_cents"] < threshold]
    if small:
        return Check(
            name,
            False,
            f"{len(small)} order(s) under {eur} are on big-orders too (e.g. {small[0]}, "
            f"{sent[small[0]]['total_cents']} cents)",
            fix="filter the dataframe before writing it: "
            "sdf = sdf[sdf['total_cents'] >= THRESHOLD_CENTS]",
        )
    unknown = [k for k in seen if k not in sent]
    if unknown:
        return Check(
            name,
            False,
            f"{len(unknown)} record(s) on big-orders are no order that was sent (e.g. "
            f"order_id {unknown[0]!r})",
            fix="keep order_id in each record: project with "
            "sdf[['order_id', 'user_id', 'total_eur', 'items']]",
        )
    twice = [k for k, n in seen.items() if n > 1]
    if twice:
        return Check(
            name,
            False,
            f"order {twice[0]} is on big-orders {seen[twice[0]]} times",
            fix="write each record once: one to_topic() at the end of the pipeline",
        )
    return Check(name, True, f"the {len(big)} orders of {eur} or more, each once")


def _order_id(record: Record) -> str | None:
    value = _json(record)
    return str(value.get("order_id")) if isinstance(value, dict) else None


def _json(record: Record) -> Any:
    try:
        return json.loads(record.value or b"")
    except ValueError:
        return None


def _shaped(out: list[Record], sent: dict[str, dict[str, Any]]) -> Check:
    name = "each record is its order, reshaped"
    for record in out:
        value = _json(record)
        want = _expected(sent[str(value["order_id"])])
        if set(value) != set(FIELDS):
            extra = sorted(set(value) - set(FIELDS))
            absent = sorted(set(FIELDS) - set(value))
            said = ", ".join(
                part
                for part in (
                    f"extra field(s) {', '.join(extra)}" if extra else "",
                    f"no {', '.join(absent)}" if absent else "",
                )
                if part
            )
            return Check(
                name,
                False,
                f"order {want['order_id']} on big-orders has {said}",
                fix="add total_eur and items, then keep only those four fields: "
                "sdf = sdf[['order_id', 'user_id', 'total_eur', 'items']]",
            )
        wrong = [
            f
            for f in FIELDS
            if not (
                abs(value[f] - want[f]) < 0.005
                if f == "total_eur" and isinstance(value[f], int | float)
                else value[f] == want[f]
            )
        ]
        if wrong:
            f = wrong[0]
            return Check(
                name,
                False,
                f"order {want['order_id']}: {f} is {value[f]!r}, expected {want[f]!r}",
                fix="total_eur = total_cents / 100; items = the length of the item list "
                "(sdf['items'].apply(len))",
            )
    return Check(name, True, f"all {len(out)} equal the order, reshaped")


def _keys(out: list[Record], sent: dict[str, dict[str, Any]]) -> Check:
    name = "each record keeps its key, the user id"
    for record in out:
        order = sent[str(_json(record)["order_id"])]
        if record.text_key != order["user_id"]:
            return Check(
                name,
                False,
                f"order {order['order_id']} of {order['user_id']} is keyed "
                f"{record.text_key or 'nothing'!r} on big-orders: that user's orders no longer "
                "share a partition, so their order is lost",
                fix="leave the key alone: to_topic(topic) writes each record with the key it was "
                "read with (no key= argument)",
            )
    return Check(name, True, f"all {len(out)} keyed by their user id")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    source = read_all(lab.conn, task.topics["orders"])
    sent = {json.loads(r.value or b"")["order_id"]: json.loads(r.value or b"") for r in source}
    out = read_all(lab.conn, task.topics["big-orders"])
    unreadable = [r for r in out if not isinstance(_json(r), dict)]
    checks = [_chosen([r for r in out if r not in unreadable], sent, task)]
    if unreadable:
        checks.append(
            Check(
                "each record is its order, reshaped",
                False,
                f"{len(unreadable)} record(s) on big-orders are no JSON object "
                f"(e.g. {(unreadable[0].value or b'')[:40]!r})",
                fix="write with value_serializer='json', the dataframe's dict as it is",
            )
        )
    elif checks[0].ok:
        checks += [_shaped(out, sent), _keys(out, sent)]

    truths: dict[str, Any] = {}
    done = committed(lab.conn, task.groups["big-orders"], task.topics["orders"])
    ends: dict[int, int] = {}
    for record in source:
        ends[record.partition] = record.offset + 1
    last_big: dict[int, int] = {}
    for record in source:
        if json.loads(record.value or b"")["total_cents"] >= task.private["threshold"]:
            last_big[record.partition] = record.offset + 1
    if done == ends:
        truths["committed"] = ENDS
    elif done == last_big:
        truths["committed"] = LAST_BIG
    where = {str(json.loads(r.value or b"")["order_id"]): r.partition for r in source}
    placed = [where.get(str(_order_id(r))) == r.partition for r in out if _order_id(r) in where]
    if placed:
        truths["partition"] = SAME if all(placed) else SPREAD
    return Graded(checks, truths)
