"""Lesson 1's grader: the learner's service runs, is stopped, misses a few orders, and runs
again; then both topics are read back from the broker. Every OrderCreated must have caused one
InventoryReserved (as many as the times it was published, no more), keyed by the order id,
whose causal headers name it, stamped no earlier than it."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import Counter
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, committed, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
FIRST, LATER = 6, 3  # orders before the first run, and while the service is down
SKUS = ["SKU-BOOK", "SKU-MUG", "SKU-LAMP", "SKU-PEN", "SKU-TEA"]


def _order() -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "event_id": str(uuid.uuid4()),
        "type": "OrderCreated",
        "order_id": f"o-{secrets.token_hex(4)}",
        "sku": secrets.choice(SKUS),
        "quantity": secrets.randbelow(3) + 1,
        "placed_at": now - 2000 - secrets.randbelow(20_000),  # the shop wrote it a bit later
        "trace": str(uuid.uuid4()),
    }


def _publish(lab: Lab, topic: str, orders: list[dict[str, Any]], twice: str | None = None) -> None:
    """Each order as the shop writes it; the one whose event_id is `twice` is sent again, as a
    shop does that gives up waiting for a delivery report and retries."""
    producer = lab.producer()
    for order in orders:
        value = {k: v for k, v in order.items() if k != "trace"}
        copies = 2 if order["event_id"] == twice else 1
        for _ in range(copies):
            producer.produce(
                topic,
                key=order["order_id"],
                value=json.dumps(value).encode(),
                headers={
                    "event_type": "OrderCreated",
                    "trace_id": order["trace"],
                    "service": "shop",
                },
            )
    producer.flush(30)


def prepare(lab: Lab) -> Task:
    orders = lab.topic("order-events", partitions=PARTITIONS)
    reserved = lab.topic("inventory-events", partitions=PARTITIONS)
    first = [_order() for _ in range(FIRST)]
    twice = secrets.choice(first)["event_id"]
    _publish(lab, orders, first, twice)
    return Task(
        topics={"order-events": orders, "inventory-events": reserved},
        groups={"inventory": lab.group("inventory")},
        private={"later": [_order() for _ in range(LATER)], "twice": twice},
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    orders, reserved = task.topics["order-events"], task.topics["inventory-events"]
    program.run()
    handled_first = len(read_all(lab.conn, reserved))
    kept = committed(lab.conn, task.groups["inventory"], orders)
    _publish(lab, orders, task.private["later"])  # while the service is down
    program.run()  # it starts again

    causes = read_all(lab.conn, orders)
    effects = read_all(lab.conn, reserved)
    by_id: dict[str, list[Record]] = {}
    for record in causes:
        by_id.setdefault(json.loads(record.text)["event_id"], []).append(record)
    linked = _link(effects, by_id)
    checks = [
        _reached(effects, reserved),
        _names_its_cause(effects, by_id),
        _trace_travels(linked, by_id),
        _one_per_cause(linked, by_id, bool(kept)),
        _keyed(linked, by_id),
        _not_before(linked, by_id),
    ]
    truths = {
        "twice": sum(1 for _, cause in linked if cause == task.private["twice"]),
        "restart": len(effects) - handled_first,
    }
    return Graded(checks, truths)


Linked = list[tuple[Record, str]]
"""Each effect with the event_id of the OrderCreated it answers."""


def _link(effects: list[Record], by_id: dict[str, list[Record]]) -> Linked:
    """An effect's cause: its causation_id header, else the order id in its value (so that
    the checks after the header's own still judge a file whose headers are missing)."""
    by_order = {json.loads(c[0].text)["order_id"]: i for i, c in by_id.items()}
    linked = []
    for effect in effects:
        cause = _cause(effect)
        if cause not in by_id:
            cause = by_order.get(_order_of(effect) or "", "")
        if cause:
            linked.append((effect, cause))
    return linked


def _order_of(effect: Record) -> str | None:
    try:
        return str(json.loads(effect.text).get("order_id"))
    except (ValueError, AttributeError):
        return None


def _cause(effect: Record) -> str:
    return effect.headers.get("causation_id", b"").decode(errors="replace")


def _reached(effects: list[Record], topic: str) -> Check:
    name = "effects reached inventory-events"
    if effects:
        return Check(name, True, f"{len(effects)} InventoryReserved on {topic}")
    return Check(
        name,
        False,
        f"no record reached {topic}",
        fix="did your service read the orders (a new group starts where auto.offset.reset "
        'says: "earliest" reads what is already on the topic), call produce() in react(), and '
        "flush() before it ended?",
    )


def _names_its_cause(effects: list[Record], by_id: dict[str, list[Record]]) -> Check:
    name = "every effect names its cause"
    bare = [e for e in effects if "causation_id" not in e.headers]
    if bare:
        return Check(
            name,
            False,
            f"{len(bare)} of {len(effects)} effects have no causation_id header: nothing says "
            "which OrderCreated caused them",
            fix='pass headers={"causation_id": <the cause\'s event_id>, "trace_id": <its '
            "trace_id header>} to produce()",
        )
    stray = [e for e in effects if _cause(e) not in by_id]
    if stray:
        e = stray[0]
        return Check(
            name,
            False,
            f"{len(stray)} of {len(effects)} effects name a cause that is no event on "
            f"order-events (e.g. causation_id={_cause(e)!r} at {e.partition}@{e.offset})",
            fix="causation_id is the cause's event_id, from its JSON value "
            "(order['event_id']), not the effect's own id",
        )
    return Check(name, True, f"each of the {len(effects)} effects names an OrderCreated")


def _trace_travels(linked: Linked, by_id: dict[str, list[Record]]) -> Check:
    name = "the trace id travels on"
    wrong = [e for e, c in linked if e.headers.get("trace_id") != by_id[c][0].headers["trace_id"]]
    if not linked or not wrong:
        return Check(name, True if linked else None, "each effect carries its cause's trace_id")
    missing = sum(1 for e in wrong if "trace_id" not in e.headers)
    detail = (
        f"{missing} of {len(linked)} effects have no trace_id header"
        if missing
        else f"{len(wrong)} of {len(linked)} effects carry another trace_id than their cause"
    )
    return Check(
        name,
        False,
        detail + ": the order's story breaks at your service",
        fix='copy the cause\'s "trace_id" header onto the effect: headers["trace_id"]',
    )


def _one_per_cause(linked: Linked, by_id: dict[str, list[Record]], kept: bool) -> Check:
    name = "one effect per cause"
    made = Counter(cause for _, cause in linked)
    missing = [i for i in by_id if made[i] == 0]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(by_id)} orders got no InventoryReserved "
            f"(e.g. {by_id[missing[0]][0].text_key})",
            fix="react() must run for every record: does the loop go on until every assigned "
            "partition has reached its end?",
        )
    extra = [i for i in by_id if made[i] > len(by_id[i])]
    if extra:
        i = extra[0]
        why = (
            "your service committed no offsets before it stopped, so after its restart it "
            "handled the first orders again: leave enable.auto.commit on and close() the "
            "consumer, or commit() what it handled"
            if not kept
            else "is a record handled again in a later batch?"
        )
        return Check(
            name,
            False,
            f"{len(extra)} orders caused more effects than they were published: "
            f"{by_id[i][0].text_key}'s OrderCreated, on the topic {len(by_id[i])}×, "
            f"caused {made[i]}",
            fix=why,
        )
    return Check(name, True, f"{len(by_id)} orders, each handled as often as it was published")


def _keyed(linked: Linked, by_id: dict[str, list[Record]]) -> Check:
    name = "effects keyed by their order id"
    keyless = [e for e, _ in linked if e.key is None]
    if keyless:
        return Check(
            name,
            False,
            f"{len(keyless)} of {len(linked)} effects have no key: they are spread over the "
            "partitions, so one order's events lose their order",
            fix="produce(..., key=cause.key()): the effect shares its cause's key, the order id",
        )
    wrong = [(e, c) for e, c in linked if e.key != by_id[c][0].key]
    if wrong:
        e, c = wrong[0]
        return Check(
            name,
            False,
            f"{len(wrong)} of {len(linked)} effects have another key than their cause "
            f"(e.g. {e.text_key!r} for {by_id[c][0].text_key})",
            fix="key the effect with the cause's key, the order id: key=cause.key()",
        )
    return Check(name, True, "every effect has its cause's key")


def _not_before(linked: Linked, by_id: dict[str, list[Record]]) -> Check:
    name = "no effect stamped before its cause"
    early = [(e, c) for e, c in linked if e.timestamp < min(r.timestamp for r in by_id[c])]
    if not early:
        return Check(name, True, "every effect's timestamp is at or after its cause's")
    e, c = early[0]
    cause = by_id[c][0]
    return Check(
        name,
        False,
        f"{len(early)} effects are stamped before their cause: {cause.text_key}'s "
        f"InventoryReserved is {(cause.timestamp - e.timestamp) / 1000:.1f} s older than its "
        "OrderCreated, so read by time the effect comes first",
        fix="leave the record timestamp to the producer (the moment the effect is published); "
        "a business time such as placed_at belongs in the value",
    )
