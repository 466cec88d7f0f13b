"""Lesson 14: a quixstreams Application filters and maps an order stream, topic to topic."""

from __future__ import annotations

import json
import random

from kafkalab.curriculum import quix
from kafkalab.curriculum.lab import Lab

from .check import Order, Out, Seen

ORDERS = 60
BIG_CENTS = 5_000  # the app keeps orders of 50 EUR and more
USERS = [f"user-{n}" for n in range(1, 7)]


def demo(lab: Lab) -> Seen:
    orders_topic = lab.topic("orders", partitions=3)
    big_topic = lab.topic("big-orders", partitions=3)
    rng = random.Random()
    sent = [
        Order(
            order_id=f"o-{n:03d}",
            user_id=rng.choice(USERS),
            total_cents=rng.randrange(500, 15_000),
            items=[f"sku-{rng.randrange(1, 9)}" for _ in range(rng.randrange(1, 4))],
            country=rng.choice(["NL", "DE", "FR", "US"]),
        )
        for n in range(ORDERS)
    ]
    producer = lab.producer()
    for order in sent:  # keyed by user: one user's orders stay in order on one partition
        producer.produce(orders_topic, key=order.user_id, value=json.dumps(vars(order)).encode())
    producer.flush(30)
    lab.say(f"Produced {ORDERS} JSON orders to {orders_topic}, keyed by user.")

    # The app: a consumer group plus a producer, wired by quixstreams. Each step below runs
    # once per record, in offset order within a partition.
    app = quix.application(lab, lab.group("big-orders"))
    sdf = app.dataframe(app.topic(orders_topic, key_deserializer="str", value_deserializer="json"))
    sdf = sdf[sdf["total_cents"] >= BIG_CENTS]  # filter: a record that fails is simply dropped
    sdf["total_eur"] = sdf["total_cents"] / 100  # map: new columns from old ones
    sdf["items"] = sdf["items"].apply(len)
    sdf["eu"] = sdf["country"] != "US"
    sdf = sdf[["order_id", "user_id", "total_eur", "items", "eu"]]  # project: keep these
    sdf.to_topic(app.topic(big_topic, key_serializer="str", value_serializer="json"))  # same key

    wanted = sum(1 for o in sent if o.total_cents >= BIG_CENTS)
    lab.say(f"Running the app until it has written {wanted} records (or goes idle).")
    emitted = quix.run_bounded(app, count=wanted, idle=10, deadline=90)

    consumer = lab.consumer(lab.group("reader"))
    consumer.subscribe([big_topic])
    out: list[Out] = []
    try:
        while len(out) < emitted:
            message = consumer.poll(10)
            if message is None:
                break  # the check says what is missing
            if message.error():
                continue
            out.append(
                Out(
                    key=(message.key() or b"").decode(),
                    offset=message.offset(),
                    partition=message.partition(),
                    value=json.loads(message.value() or b"{}"),
                )
            )
    finally:
        consumer.close()
    lab.table(
        f"first records on {big_topic}",
        ["key", "order", "total_eur", "items", "eu"],
        [
            [r.key, r.value["order_id"], r.value["total_eur"], r.value["items"], r.value["eu"]]
            for r in sorted(out, key=lambda r: r.value["order_id"])[:8]
        ],
    )
    lab.show("the stream", [("orders in", len(sent)), ("kept", len(out)), ("threshold", "50 EUR")])
    return Seen(threshold_cents=BIG_CENTS, sent=sent, out=out)
