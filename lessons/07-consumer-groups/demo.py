"""Lesson 7: scale the payment service from one replica to three while orders flow, watch the
group reassign partitions and drain its lag, then scale it back."""

from __future__ import annotations

import threading
import time

import httpx
from confluent_kafka import Consumer, TopicPartition

from kafkalab.catalogue.services import group_id
from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import EventSerde
from kafkalab.events.topics import PAYMENTS
from kafkalab.load import plan, shop
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control, files
from kafkalab.ui import sparkline

from .check import Assignment, Rebalance, Seen, owned_twice

GROUP = group_id("payment")  # every payment replica joins this one consumer group
ORDERS, PER_SECOND = 40, 4.0
# The same join under both group protocols. Classic members heartbeat every second here, as
# kafkalab's broker makes KIP-848 members do (group.consumer.heartbeat.interval.ms=1000).
PROTOCOLS = {
    "classic": {
        "partition.assignment.strategy": "cooperative-sticky",
        "heartbeat.interval.ms": 1000,
    },
    # KIP-848: the broker assigns; librdkafka refuses the assignor and session settings here.
    "consumer": {},
}


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    if _replicas(lab) != 1:  # start from one replica, whatever an earlier run left
        control.scale(lab.settings, "payment", 1)
    before = _stable(lab, members=1)
    partitions = sorted(p for owned in before.values() for p in owned)
    _show(lab, "one replica: the whole group's work", before)

    with httpx.Client(timeout=30) as http:
        customers = shop.customers(lab.settings, http, plan.LoadPlan(orders=ORDERS, users=2))
        shop.top_up_stock(lab.settings, http, plan.stock_needed(ORDERS))
    start = _payments_end(lab)
    placed: list[str] = []
    sender = threading.Thread(target=_place, args=(lab, customers, placed), daemon=True)
    lag: list[int] = []
    try:
        lab.say(f"Placing {ORDERS} orders at {PER_SECOND:g}/s and scaling payment to 3 replicas.")
        sender.start()
        control.scale(lab.settings, "payment", 3)  # the supervisor starts payment-1 and -2
        # Each new member's JoinGroup starts a rebalance. cooperative-sticky moves only the
        # partitions that must move: payment-0 gives up two thirds and keeps the rest.
        up = _stable(lab, members=3, lag=lag)
        _show(lab, "three replicas: the partitions split", up)
        sender.join(60)
        final = _drained(lab, lag)
        lab.say(
            f"payment lag while it rescaled: {sparkline(lag)} (peak {max(lag, default=0)}, "
            f"now {final})"
        )
        decisions = _decisions(lab, start, set(placed))
    finally:
        lab.say("Scaling payment back to 1: the leavers' partitions return to payment-0.")
        control.scale(lab.settings, "payment", 1)  # the platform is left as it was found
    down = _stable(lab, members=1)
    _show(lab, "back to one replica", down)

    topic = lab.topic("rebalance", partitions=6)
    lab.say("Now the same join twice on a fresh 6-partition topic: two consumers, then a third.")
    rebalances = [_rebalance(lab, topic, protocol) for protocol in PROTOCOLS]
    lab.table(
        "a third member joins: until every member holds its new share",
        ["group.protocol", "seconds", "the broker's group type", "partitions per member"],
        [
            [r.protocol, "—" if r.seconds is None else f"{r.seconds:.1f}", r.group_type]
            + [", ".join(f"{m}: {len(ps)}" for m, ps in sorted(r.owned.items()))]
            for r in rebalances
        ],
    )
    return Seen(partitions, up, down, placed, decisions, lag, final, rebalances)


def _rebalance(lab: Lab, topic: str, protocol: str, timeout: float = 30) -> Rebalance:
    """Two members of a new group share `topic`, then a third subscribes: how long until every
    member's own callbacks say it holds its new share, each partition exactly once."""
    group = lab.group(protocol)
    owned: Assignment = {}
    members: list[Consumer] = []

    def join(name: str) -> None:
        consumer = lab.consumer(group, **{"group.protocol": protocol, "client.id": name})
        owned[name] = []

        # Both protocols hand out partitions incrementally: on_assign gets only the added
        # ones, on_revoke only the ones taken away.
        def assigned(_: Consumer, parts: list[TopicPartition]) -> None:
            owned[name] = sorted({*owned[name], *(f"{p.topic}[{p.partition}]" for p in parts)})

        def revoked(_: Consumer, parts: list[TopicPartition]) -> None:
            gone = {f"{p.topic}[{p.partition}]" for p in parts}
            owned[name] = [p for p in owned[name] if p not in gone]

        consumer.subscribe([topic], on_assign=assigned, on_revoke=revoked)
        members.append(consumer)

    def settled(deadline: float) -> float | None:
        while time.monotonic() < deadline:
            for consumer in members:
                consumer.poll(0.05)  # callbacks run inside poll()
            shares = [p for ps in owned.values() for p in ps]
            if all(owned.values()) and len(shares) == 6 and not owned_twice(owned):
                return time.monotonic()
        return None

    try:
        join(f"{protocol}-0")
        join(f"{protocol}-1")
        settled(time.monotonic() + timeout)
        joined = time.monotonic()
        join(f"{protocol}-2")  # the rebalance starts with this member's first heartbeat
        done = settled(joined + timeout)
        shares = dict(owned)  # before close(): leaving revokes every partition
        group_type = _group_type(lab, group)
    finally:
        for consumer in members:
            consumer.close()  # leaves the group
    seconds = None if done is None else done - joined
    return Rebalance(protocol, seconds, shares, group_type)


def _group_type(lab: Lab, group: str) -> str:
    """The broker's word for the protocol a group runs: "classic" or "consumer"."""
    admin = lab.admin()  # kept in a name: a collected client cancels its futures
    described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    return str(described.type.name).lower()


def _replicas(lab: Lab) -> int:
    status = files.read_status(lab.settings)
    return sum(1 for r in status.replicas if r.service == "payment" and r.pid)


def _stable(
    lab: Lab, members: int, lag: list[int] | None = None, timeout: float = 90
) -> Assignment:
    """The broker's view of the group once it is Stable with `members` members that all have
    partitions (as `kafka-consumer-groups --describe` would show it)."""
    admin = lab.admin()
    deadline = time.monotonic() + timeout
    seen: Assignment = {}
    while time.monotonic() < deadline:
        group = admin.describe_consumer_groups([GROUP])[GROUP].result(timeout=10)
        seen = {
            m.client_id: sorted(f"{p.topic}[{p.partition}]" for p in m.assignment.topic_partitions)
            for m in group.members
        }
        if group.state.name == "STABLE" and len(seen) == members and all(seen.values()):
            return seen
        if lag is not None:
            lag.append(_lag(lab))
        time.sleep(0.5)
    return seen  # not stable in time: the check shows what it was


def _show(lab: Lab, title: str, assignment: Assignment) -> None:
    lab.table(
        title,
        ["member (client.id)", "partitions"],
        [[m, f"{len(ps)}: {', '.join(ps)}"] for m, ps in sorted(assignment.items())],
    )


def _place(lab: Lab, customers: list[shop.Customer], placed: list[str]) -> None:
    client = shop.OrderClient(lab.settings)
    try:
        for n in range(ORDERS):
            answer = client.place(customers[n % len(customers)], plan.sku(n))
            if answer.order_id:
                placed.append(answer.order_id)
            time.sleep(1 / PER_SECOND)
    finally:
        client.close()


def _lag(lab: Lab) -> int:
    return sum(g.total for g in group_lag(lab.conn, [GROUP], timeout=5))


def _drained(lab: Lab, lag: list[int], timeout: float = 60) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lag.append(_lag(lab))
        if lag[-1] == 0:
            return 0
        time.sleep(0.5)
    return None


def _payments_end(lab: Lab) -> list[TopicPartition]:
    consumer = lab.consumer(lab.group("watermarks"))
    try:
        meta = consumer.list_topics(PAYMENTS, timeout=10).topics[PAYMENTS]
        return [
            TopicPartition(
                PAYMENTS,
                p,
                consumer.get_watermark_offsets(TopicPartition(PAYMENTS, p), timeout=10)[1],
            )
            for p in sorted(meta.partitions)
        ]
    finally:
        consumer.close()


def _decisions(
    lab: Lab, start: list[TopicPartition], orders: set[str], timeout: float = 60
) -> list[str]:
    """Order ids of every PaymentCompleted/PaymentFailed written since `start` for our orders."""
    serde = EventSerde(lab.conn)
    found: list[str] = []
    consumer = lab.consumer(lab.group("payments-reader"))
    consumer.assign(start)  # read_committed: only payments whose transaction committed
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not orders <= set(found):
            for message in consumer.consume(200, timeout=0.5):
                if message.error():
                    continue
                order_id = str(serde.decode(message).value.get("order_id"))
                if order_id in orders:
                    found.append(order_id)
        # Anything decided twice would already be there: the payments of one order share a
        # key, hence a partition, and we have read past both of them.
    finally:
        consumer.close()
    return found
