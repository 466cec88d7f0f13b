"""Lesson 6's grader: two consumer groups with committed offsets, moved by the learner's
command lines, then read back with the AdminClient against where they should be.

`billing` stopped part-way through the payments written after a bug went live: it must be back
on the first payment at or after that moment, on every partition. `shipping` had read every
order but lost one: it must be back on that order's record, on that record's partition alone.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, Message, TopicPartition

from kafkalab.cluster import tools
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab, group_prefix
from kafkalab.curriculum.readback import committed
from kafkalab.events.serde import EventSerde
from kafkalab.verdict import Check

from .demo import value_of

PARTITIONS = 3
PARTS = range(PARTITIONS)
BEFORE, AFTER, HANDLED = 4, 3, 2
"""Per partition of payments: written before the bug, after it, and how many of the later ones
billing handled before it stopped."""
ORDERS = 45
DRY_RUN = [
    "it moves the group to the earliest offsets",
    "it prints the new offsets and changes nothing",
    "it refuses to run",
]


def prepare(lab: Lab) -> Task:
    payments = lab.topic("payments", partitions=PARTITIONS)
    orders = lab.topic("orders", partitions=PARTITIONS)
    serde = EventSerde(lab.conn)
    now = int(time.time() * 1000)
    bug = now - 330_000 + secrets.randbelow(30_000)  # 5 to 5.5 minutes ago
    _write_payments(lab, serde, payments, now)
    ids = [f"o-{secrets.token_hex(4)}" for _ in range(ORDERS)]
    placed = _write_orders(lab, serde, orders, ids, now)
    lost = secrets.choice(ids[:10])  # older than the last 20 records
    ends = {p: 1 + max((o for q, o in placed.values() if q == p), default=-1) for p in PARTS}
    _commit(lab, lab.group("billing"), payments, dict.fromkeys(PARTS, BEFORE + HANDLED))
    _commit(lab, lab.group("shipping"), orders, ends)
    return Task(
        topics={"payments": payments, "orders": orders},
        groups={"billing": lab.group("billing"), "shipping": lab.group("shipping")},
        params={"since": _iso(bug), "lost_order": lost},
        private={"lost_at": placed[lost], "orders_end": ends},
    )


def _write_payments(lab: Lab, serde: EventSerde, topic: str, now: int) -> None:
    """BEFORE payments per partition 10 to 7 minutes ago, AFTER more 4 to 2 minutes ago."""
    producer = lab.producer()
    for p in PARTS:
        for n in range(BEFORE + AFTER):
            minutes = 10 - n if n < BEFORE else 4 - (n - BEFORE)
            order_id = f"o-{secrets.token_hex(4)}"
            kind = "PaymentCompleted"
            value, headers = serde.envelope(kind, value_of(kind, order_id), "payment")
            producer.produce(
                topic,
                key=order_id,
                value=serde.serialize(topic, kind, value),
                headers=headers,
                partition=p,
                timestamp=now - minutes * 60_000,  # the record's time, as if written then
            )
    producer.flush(30)


def _write_orders(
    lab: Lab, serde: EventSerde, topic: str, ids: list[str], now: int
) -> dict[str, tuple[int, int]]:
    """One OrderCreated per id, a second apart, oldest first; where each one went."""
    producer = lab.producer()
    placed: dict[str, tuple[int, int]] = {}
    for i, order_id in enumerate(ids):
        value, headers = serde.envelope("OrderCreated", value_of("OrderCreated", order_id), "order")

        def noted(err: KafkaError | None, msg: Message, order_id: str = order_id) -> None:
            if err is None:  # the delivery report says where the record went
                placed[order_id] = (msg.partition() or 0, msg.offset() or 0)

        producer.produce(
            topic,
            key=order_id,
            value=serde.serialize(topic, "OrderCreated", value),
            headers=headers,
            timestamp=now - (len(ids) - i) * 1000,
            on_delivery=noted,
        )
    producer.flush(30)
    return placed


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    payments, orders = task.topics["payments"], task.topics["orders"]
    billing = committed(lab.conn, task.groups["billing"], payments)
    shipping = committed(lab.conn, task.groups["shipping"], orders)
    checks = [_billing(lab, task, billing), _shipping(task, shipping)]
    lag = sum(BEFORE + AFTER - billing.get(p, 0) for p in PARTS)
    return Graded(checks, truths={"lag": lag, "dry": _dry_run(lab, payments)})


def _billing(lab: Lab, task: Task, seen: dict[int, int]) -> Check:
    name = "billing reads payments again from the bug"
    since, group = task.params["since"], task.groups["billing"]
    want = dict.fromkeys(PARTS, BEFORE)
    if seen == want:
        return Check(
            name,
            True,
            f"billing is back at {_offsets(seen)}: the {PARTITIONS * AFTER} payments since "
            f"{since} will be billed again",
        )
    if seen == dict.fromkeys(PARTS, BEFORE + HANDLED):
        other = _moved_instead(lab, task)
        if other:
            return Check(
                name,
                False,
                f"the reset went to group {other}, not to billing's group {group}: billing did "
                "not move",
                fix=f"--group {group} (BILLING in the file: lab.group('billing'))",
            )
        return Check(
            name,
            False,
            f"billing did not move: its offsets are still {_offsets(seen)}, where it stopped",
            fix="--reset-offsets only prints its plan (a dry run, the default) unless you add "
            "--execute; the reset specification for a moment in time is --to-datetime",
        )
    if seen == dict.fromkeys(PARTS, BEFORE + AFTER):
        return Check(
            name,
            False,
            f"billing was moved to the end of payments ({_offsets(seen)}): the payments since "
            f"{since} would never be billed again",
            fix=f"--to-latest moves past every record; --to-datetime {since} moves to the first "
            "payment at or after that moment",
        )
    if seen == dict.fromkeys(PARTS, 0):
        return Check(
            name,
            False,
            f"billing was moved to the beginning ({_offsets(seen)}): it would bill the "
            f"{PARTITIONS * BEFORE} payments from before {since} a second time",
            fix=f"--to-earliest replays everything; --to-datetime {since} starts at that moment",
        )
    return Check(
        name,
        False,
        f"billing is at {_offsets(seen)}, but the first payments at or after {since} are at "
        f"{_offsets(want)}",
        fix=f"--to-datetime {since} (UTC, as given), on every partition of "
        f"--topic {task.topics['payments']}",
    )


def _shipping(task: Task, seen: dict[int, int]) -> Check:
    name = "shipping is back on the lost order"
    lost, (partition, offset) = task.params["lost_order"], task.private["lost_at"]
    ends: dict[int, int] = task.private["orders_end"]
    moved = [p for p in ends if p != partition and seen.get(p) != ends[p]]
    if moved:
        again = sum(ends[p] - seen.get(p, 0) for p in moved)
        return Check(
            name,
            False,
            f"shipping also moved on partition(s) {', '.join(map(str, moved))}: it would ship "
            f"{again} other orders again",
            fix=f"name the one partition: --topic {task.topics['orders']}:PARTITION",
        )
    at = seen.get(partition, ends[partition])
    if at == offset:
        return Check(
            name, True, f"shipping reads {lost} again ({partition}@{offset}), and nothing else"
        )
    if at == ends[partition]:
        return Check(
            name,
            False,
            f"shipping did not move: it will not read {lost} again",
            fix=f"find {lost}'s partition and offset with `kafkalab tail "
            f"{task.topics['orders']} --from-beginning` (without it tail shows the last 20), "
            "then --reset-offsets --topic TOPIC:PARTITION --to-offset OFFSET --execute",
        )
    where = "after" if at > offset else "before"
    return Check(
        name,
        False,
        f"shipping is at {partition}@{at}, {abs(at - offset)} record(s) {where} {lost}'s "
        f"record at {partition}@{offset}",
        fix="--to-offset takes the offset of the first record to read again: the record's own",
    )


def _dry_run(lab: Lab, topic: str) -> str:
    """What --reset-offsets does without --execute, seen on a group of the grader's own."""
    group = lab.group("dry-run")
    start = dict.fromkeys(PARTS, BEFORE)
    _commit(lab, group, topic, start)
    args = ["--group", group, "--topic", topic, "--reset-offsets", "--to-earliest"]
    done = tools.run_tool(lab.settings, lab.conn, "consumer-groups", args, capture=True)
    if done.returncode != 0:
        return DRY_RUN[2]
    return DRY_RUN[1] if committed(lab.conn, group, topic) == start else DRY_RUN[0]


def _moved_instead(lab: Lab, task: Task) -> str | None:
    """Another group that got offsets on payments: a billing-like name, or one of the lesson's."""
    admin = lab.admin()  # kept in a variable: a collected client cancels its futures
    for listed in admin.list_consumer_groups(request_timeout=10).result(timeout=15).valid:
        name = str(listed.group_id)
        if name == task.groups["billing"]:
            continue
        suspect = "billing" in name or name.startswith(group_prefix(lab.lesson))
        if suspect and committed(lab.conn, name, task.topics["payments"]):
            return name
    return None


def _commit(lab: Lab, group: str, topic: str, offsets: dict[int, int]) -> None:
    """The group's committed offsets, set as a member that stopped there would leave them."""
    admin = lab.admin()
    tps = [TopicPartition(topic, p, o) for p, o in offsets.items()]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])[group].result(
        timeout=30
    )


def _iso(ms: int) -> str:
    """The form kafka-consumer-groups --to-datetime reads, in UTC: 2026-01-31T09:15:00.123Z."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _offsets(offsets: dict[int, int]) -> str:
    return ", ".join(f"[{p}] {o}" for p, o in sorted(offsets.items()))
