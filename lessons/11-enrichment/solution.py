"""Lesson 11 exercise — orders joined with the latest profile, PII masked. (reference solution)

Goal: `users` is a compacted table topic — every version of each user's profile, keyed by user
id, oldest first — and `orders` holds orders with the customer's full card number. Complete
`remember()` so the table keeps each user's *latest* profile, and `mask_card()` and
`mask_email()` so no card number or email address leaves this service in clear.

`kafkalab lesson 11` seeds both topics, runs this file, then reads `orders-enriched` back from
the broker: it checks each order's profile fields and scans every byte of every record for the
seeded card numbers and email addresses.
"""

import json

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from kafkalab.exercise import setup

lab = setup()
USERS = lab.topic("users")
ORDERS = lab.topic("orders")
OUTPUT = lab.topic("orders-enriched")

profiles: dict[str, dict] = {}  # user id → profile: this service's copy of the users table


def remember(user_id: str, profile: dict | None) -> None:
    """Apply one record of the users topic to `profiles`; records come in offset order."""
    if profile is None:  # a tombstone (null value): the user was deleted
        profiles.pop(user_id, None)
        return
    # Last value wins: until the cleaner has run, the topic holds every version of a profile,
    # oldest first, so a later record replaces what an earlier one left.
    profiles[user_id] = profile


def mask_card(number: str) -> str:
    """'4111111111111111' → '************1111': only the last four digits leave the service."""
    return "*" * (len(number) - 4) + number[-4:]


def mask_email(address: str) -> str:
    """'ada.lovelace@example.org' → 'a***@example.org'."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def load_table() -> None:
    """Read USERS from offset 0 to the end it has now into `profiles`, before the first join:
    an order for a user not read yet would look like one for a user who does not exist."""
    table = Consumer(
        {
            **lab.config,
            "group.id": lab.group("users-table"),  # librdkafka wants one; assign() never joins
            "enable.auto.commit": False,
            "enable.partition.eof": True,  # an event at each partition's end: the table is loaded
        }
    )
    partitions = table.list_topics(USERS, timeout=10).topics[USERS].partitions
    # assign(), not subscribe(): a table needs every partition, not a group's share of them
    table.assign([TopicPartition(USERS, p, OFFSET_BEGINNING) for p in partitions])
    at_end: set[int] = set()
    try:
        while len(at_end) < len(partitions):
            msg = table.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition())
                continue
            if error is not None:
                raise KafkaException(error)
            value = msg.value()
            remember((msg.key() or b"").decode(), json.loads(value) if value is not None else None)
    finally:
        table.close()


def enrich(order: dict) -> dict | None:
    """The order as downstream needs it: its customer's profile added, the PII masked."""
    profile = profiles.get(order["user_id"])
    if profile is None:
        return None
    # Masked here, before produce(): once a clear number is on a topic, every consumer and
    # every replica of it has it, and no retention change takes it back.
    return {
        "order_id": order["order_id"],
        "user_id": order["user_id"],
        "total_cents": order["total_cents"],
        "card_masked": mask_card(order["card_number"]),
        "customer_name": profile["name"],
        "email_masked": mask_email(profile["email"]),
        "tier": profile["tier"],
    }


load_table()
print(f"the table holds {len(profiles)} users")
producer = Producer(lab.config)
consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("enricher"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,  # committed below, once the enriched records are written
        "enable.partition.eof": True,
    }
)
assigned: set[int] = set()
at_end: set[int] = set()
consumer.subscribe([ORDERS], on_assign=lambda c, parts: assigned.update(p.partition for p in parts))
try:
    while not assigned or assigned - at_end:  # until every assigned partition is read
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        error = msg.error()
        if error is not None and error.code() == KafkaError._PARTITION_EOF:
            at_end.add(msg.partition())
            continue
        if error is not None:
            raise KafkaException(error)
        order = json.loads(msg.value() or b"{}")
        enriched = enrich(order)
        if enriched is None:
            print(f"order {order.get('order_id')}: user {order.get('user_id')} is unknown")
            continue
        producer.produce(OUTPUT, key=msg.key(), value=json.dumps(enriched).encode())
    producer.flush(30)  # the enriched records are on the broker before the inputs are committed
    consumer.commit(asynchronous=False)
finally:
    consumer.close()
