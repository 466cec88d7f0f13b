"""Lesson 6: write a few events you know, then look at them with each developer tool."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, Message, TopicCollection
from confluent_kafka.admin import ConfigResource, ResourceType

from kafkalab import ui
from kafkalab.cli.observe import tail_line
from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import Event, EventSerde
from kafkalab.observe.lag import group_lag
from kafkalab.observe.tail import tail
from kafkalab.observe.trace import order_events, read_events, trace_lines

from .check import Record, Seen

ORDERS, PROCESS = 4, 2  # orders written; payments the billing consumer handles before we look
RETENTION = "3600000"
PARTITIONS = {"order-events": 3, "inventory-events": 3, "payments": 1}
STEPS = [  # (topic, event type, writer), each event caused by the one before
    ("order-events", "OrderCreated", "order"),
    ("inventory-events", "InventoryReserved", "inventory"),
    ("payments", "PaymentCompleted", "payment"),
]


def value_of(event_type: str, order_id: str) -> dict[str, Any]:
    item = {"sku": "SKU-MUG", "quantity": 2, "unit_price_cents": 1250}
    base = {"order_id": order_id, "user_id": "u-lesson06", "card_masked": "****4242"}
    if event_type == "PaymentCompleted":
        return {**base, "payment_id": f"p-{order_id[:8]}", "amount_cents": 2500, "attempts": 1}
    extra = {"expires_at": 0} if event_type == "InventoryReserved" else {}
    return {**base, "items": [item], "total_cents": 2500, **extra}


def write_orders(lab: Lab, topics: dict[str, str]) -> tuple[list[Record], dict[str, list[str]]]:
    """ORDERS causal chains, each written effect first — as if the writers' clocks were wrong.
    Returns every record where its delivery report put it, and each order's event ids."""
    serde, producer = EventSerde(lab.conn), lab.producer()
    produced: list[Record] = []
    chains: dict[str, list[str]] = {}

    def noted(event: Event, error: KafkaError | None, msg: Message) -> None:
        if error is None:  # the delivery report says where the record went
            where = (msg.topic(), msg.partition(), msg.offset() or 0)
            produced.append(Record(*where, event.key or "", event.type, event.headers))

    for _ in range(ORDERS):
        order_id, cause, chain = str(uuid.uuid4()), None, []
        for name, event_type, service in STEPS:
            # envelope(): event_id, occurred_at and the causal headers every service writes
            value, headers = serde.envelope(
                event_type, value_of(event_type, order_id), service, cause
            )
            # This event causes the next: envelope() copies its trace_id, names it causation_id.
            cause = Event(
                topics[name], 0, 0, order_id, event_type, value, {k: v.decode() for k, v in headers}
            )
            chain.append((topics[name], cause, headers))
        chains[order_id] = [event.event_id for _, event, _ in chain]
        for topic, event, headers in reversed(chain):
            data = serde.serialize(topic, event.type, event.value)
            producer.produce(
                topic, key=order_id, value=data, headers=headers, on_delivery=partial(noted, event)
            )
    producer.flush(30)
    return produced, chains


def describe(lab: Lab, topics: list[str]) -> dict[str, tuple[int, str]]:
    """What `kafka-topics.sh --describe` shows: the partitions and the topic's own config."""
    admin = lab.admin()
    found = admin.describe_topics(TopicCollection(topics))
    configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in topics])
    out = {}
    for resource, future in configs.items():
        partitions = found[resource.name].result(timeout=30).partitions
        out[resource.name] = (len(partitions), future.result(timeout=30)["retention.ms"].value)
    return out


def demo(lab: Lab) -> Seen:
    topics = {
        name: lab.topic(name, n, {"retention.ms": RETENTION}) for name, n in PARTITIONS.items()
    }
    produced, chains = write_orders(lab, topics)
    lab.say(
        f"Wrote {ORDERS} orders × 3 events, effects first. What `kafkalab tail TOPIC "
        "--from-beginning` prints (with `--headers` for payments):"
    )
    tailed = []
    for topic in topics.values():  # tail assigns partitions: it joins no group, commits nothing
        for r in tail(lab.conn, topic, from_beginning=True):
            lab.say(tail_line(r, headers=topic == topics["payments"]))
            tailed.append(Record(r.topic, r.partition, r.offset, r.key or "", r.type, r.headers))

    # `kafkalab trace ORDER_ID` does this on the platform's topics: read, keep one order, sort by cause.
    order_id, chain = next(iter(chains.items()))
    lines = trace_lines(order_events(read_events(lab.conn, tuple(topics.values())), order_id))
    if not lab.quiet:
        ui.trace(
            lines, title=f"trace of order {order_id[:8]}: written effect first, shown cause first"
        )

    described = describe(lab, list(topics.values()))
    lab.table(
        "describe topics",
        ["topic", "partitions", "retention.ms"],
        [[t, *d] for t, d in described.items()],
    )

    group, payments = lab.group("billing"), topics["payments"]
    consumer = lab.consumer(group, **{"enable.auto.commit": False})
    consumer.subscribe([payments])
    processed = 0
    try:
        while processed < PROCESS and (message := consumer.poll(15)) is not None:
            if not message.error():
                consumer.commit(message=message, asynchronous=False)  # processed, so committed
                processed += 1
        # Describe and measure the group while its member is still in it.
        admin = lab.admin()  # kept in a variable: a collected client cancels its futures
        about = admin.describe_consumer_groups([group])[group].result(timeout=30)
        assigned = [
            f"{tp.topic}[{tp.partition}]"
            for m in about.members
            for tp in m.assignment.topic_partitions
        ]
        [lag] = group_lag(lab.conn, [group])  # what `kafkalab lag GROUP` prints
    finally:
        consumer.close()
    lab.show(
        f"describe group {group}",
        [
            ("state", about.state.name),
            ("members", len(about.members)),
            ("assigned", ", ".join(assigned)),
        ],
    )
    lab.table(
        f"kafkalab lag {group}",
        ["partition", "committed", "end", "lag"],
        [[f"{p.topic}[{p.partition}]", p.committed, p.end, p.lag] for p in lag.partitions],
    )
    return Seen(
        produced=produced,
        tailed=tailed,
        chain=chain,
        traced=[line.event_id for line in lines],
        created={t: (PARTITIONS[name], RETENTION) for name, t in topics.items()},
        described=described,
        group_state=about.state.name,
        group_members=len(about.members),
        member_partitions=assigned,
        topic_partitions=[f"{payments}[0]"],
        produced_to_group_topic=ORDERS,
        processed=processed,
        lag=lag.total,
    )
