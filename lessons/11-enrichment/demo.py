"""Lesson 11: order events joined with the latest user profile from a compacted topic, PII masked."""

from __future__ import annotations

import json
import threading

from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import Event, EventSerde, now_ms
from kafkalab.services.notification.messages import mask_email, mask_phone
from kafkalab.services.tables import TopicTable

from .check import Enriched, Person, Seen

PEOPLE = [
    Person("u-1", "Ada Lovelace", "ada@example.com", "+44 7700 900101"),
    Person("u-2", "Grace Hopper", "grace@example.org", "+1 202 555 0142"),
    Person("u-3", "Alan Turing", "alan@example.net", "+44 7700 900303"),
    Person("u-4", "Katherine Johnson", "kj@example.com", "+1 757 555 0199"),
]
MOVED = Person("u-2", "Grace B. Hopper", "grace.hopper@navy.example", "+1 202 555 0177")
ORDERS = {f"order-{n:02d}": PEOPLE[n % len(PEOPLE)].user_id for n in range(12)}


def demo(lab: Lab) -> Seen:
    # The users topic is a table: compaction keeps (at least) the last record of every key.
    users = lab.topic("users", partitions=3, config={"cleanup.policy": "compact"})
    orders = lab.topic("orders", partitions=3)
    enriched_topic = lab.topic("orders-enriched", partitions=3)
    serde, producer = EventSerde(lab.conn), lab.producer()

    lab.say(f"Writing {len(PEOPLE)} profiles to {users}, then a newer one for {MOVED.user_id}.")
    for person in [*PEOPLE, MOVED]:
        value = {**vars(person), "balance_cents": 10_000, "registered_at": now_ms()}
        full, headers = serde.envelope("UserProfile", value, "lesson11")
        data = serde.serialize(users, "UserProfile", full)
        producer.produce(users, key=person.user_id, value=data, headers=headers)
    lab.say(f"Writing {len(ORDERS)} OrderCreated events to {orders}, keyed by order id.")
    for order_id, user_id in ORDERS.items():
        value = {"order_id": order_id, "user_id": user_id, "total_cents": 2_500}
        value |= {"items": [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 2_500}]}
        full, headers = serde.envelope("OrderCreated", {**value, "card_masked": "****4242"}, "lab")
        producer.produce(orders, key=order_id, value=serde.serialize(orders, "OrderCreated", full))
    producer.flush(30)

    # The enricher's memory of users: the whole users topic read into a dict, the same
    # TopicTable the notification service keeps. Same key again → the newer value replaces it.
    profiles: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def remember(event: Event) -> None:
        with lock:
            profiles[str(event.value["user_id"])] = event.value

    table = TopicTable(lab.conn, users, remember, name=lab.group("users-table"))
    table.start()
    consumer = lab.consumer(lab.group("enricher"), **{"enable.auto.commit": False})
    seen_out: list[Enriched] = []
    try:
        table.wait_loaded(30)  # read to the end before the first join: "unknown" ≠ "not read yet"
        lab.say(f"The table holds {len(profiles)} users, built from {len(PEOPLE) + 1} records.")
        consumer.subscribe([orders])
        done = 0
        while done < len(ORDERS):
            message = consumer.poll(10)
            if message is None:
                break  # nothing for 10 s: the check will say which orders are missing
            if message.error():
                continue
            order = serde.decode(message).value
            with lock:
                profile = profiles.get(str(order["user_id"]))
            if profile is None:
                continue  # the notification service retries, then dead-letters; the check says
            # The transformation: keep what downstream needs, add the profile, mask the PII
            # *before* producing — once a clear address is on a topic, every reader has it.
            out = {
                "order_id": order["order_id"],
                "user_id": order["user_id"],
                "total_cents": order["total_cents"],
                "customer_name": profile["name"],
                "email_masked": mask_email(str(profile["email"])),
                "phone_masked": mask_phone(str(profile["phone"])),
            }
            producer.produce(enriched_topic, key=message.key(), value=json.dumps(out).encode())
            done += 1
        producer.flush(30)  # the enriched records are written before the inputs are committed
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
        table.stop()

    reader = lab.consumer(lab.group("reader"))
    reader.subscribe([enriched_topic])
    try:
        while len(seen_out) < len(ORDERS) and (message := reader.poll(10)) is not None:
            if not message.error():
                raw = (message.value() or b"").decode()
                fields = json.loads(raw)
                seen_out.append(Enriched(fields["order_id"], fields["user_id"], fields, raw))
    finally:
        reader.close()
    lab.table(
        f"read back from {enriched_topic}",
        ["order", "user", "customer_name", "email_masked", "phone_masked"],
        [
            [
                r.order_id,
                r.user_id,
                r.fields["customer_name"],
                r.fields["email_masked"],
                r.fields["phone_masked"],
            ]
            for r in sorted(seen_out, key=lambda r: r.order_id)
        ],
    )
    return Seen(
        orders=ORDERS,
        latest=[MOVED if p.user_id == MOVED.user_id else p for p in PEOPLE],
        superseded=[p for p in PEOPLE if p.user_id == MOVED.user_id],
        profile_records=len(PEOPLE) + 1,
        table_size=len(profiles),
        enriched=seen_out,
    )
