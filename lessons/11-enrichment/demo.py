"""Lesson 11: order events joined with the latest user profile from a compacted topic, PII masked."""

from __future__ import annotations

import json
import threading
import time

from confluent_kafka import Producer

from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import Event, EventSerde, now_ms
from kafkalab.services.notification.messages import mask_email, mask_phone
from kafkalab.services.tables import TopicTable, read_to_end

from .check import Enriched, Kept, Person, Seen

PEOPLE = [
    Person("u-1", "Ada Lovelace", "ada@example.com", "+44 7700 900101"),
    Person("u-2", "Grace Hopper", "grace@example.org", "+1 202 555 0142"),
    Person("u-3", "Alan Turing", "alan@example.net", "+44 7700 900303"),
    Person("u-4", "Katherine Johnson", "kj@example.com", "+1 757 555 0199"),
]
MOVED = Person("u-2", "Grace B. Hopper", "grace.hopper@navy.example", "+1 202 555 0177")
ORDERS = {f"order-{n:02d}": PEOPLE[n % len(PEOPLE)].user_id for n in range(12)}


LATE = Person("u-5", "Mary Jackson", "mary@example.com", "+1 757 555 0123")
# The users topic is a table: compaction keeps (at least) the last record of every key. The
# cleaner never touches the active segment (the one being written): segment.ms closes it once
# a record arrives that long after its first; a dirty ratio of 1% makes it worth cleaning at
# once. (Production tables keep the defaults: 7 days, 0.5.) One partition, so the record that
# closes the segment lands on the same log as the versions to clean.
TABLE = {"cleanup.policy": "compact", "segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01"}
SEGMENT_S = 1.0


def demo(lab: Lab) -> Seen:
    users = lab.topic("users", partitions=1, config=TABLE)
    orders = lab.topic("orders", partitions=3)
    enriched_topic = lab.topic("orders-enriched", partitions=3)
    serde, producer = EventSerde(lab.conn), lab.producer()

    lab.say(f"Writing {len(PEOPLE)} profiles to {users}, then a newer one for {MOVED.user_id}.")
    write_profiles(serde, producer, users, [*PEOPLE, MOVED])
    segment_opened = time.monotonic()
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

    # Compaction is the broker's work, not the reader's: close the segment, then read the
    # topic back from offset 0 until the cleaner has been through it (it looks every second).
    time.sleep(max(0.0, segment_opened + SEGMENT_S + 0.1 - time.monotonic()))
    lab.say(f"{LATE.user_id} registers: a record that closes the segment the cleaner may clean.")
    write_profiles(serde, producer, users, [LATE])
    superseded = [p for p in PEOPLE if p.user_id == MOVED.user_id]
    log, waited = read_log(lab, serde, users, superseded, timeout=20)
    lab.table(
        f"{users} from offset 0, {waited:.1f} s later",
        ["offset", "user", "name"],
        [[k.offset, k.user_id, k.name] for k in log],
    )
    return Seen(
        orders=ORDERS,
        latest=[MOVED if p.user_id == MOVED.user_id else p for p in PEOPLE],
        superseded=superseded,
        enriched=seen_out,
        written=[*PEOPLE, MOVED, LATE],
        log=log,
        waited_s=waited,
    )


def write_profiles(serde: EventSerde, producer: Producer, users: str, people: list[Person]) -> None:
    """Each profile as an Avro UserProfile keyed by user id (what the user service writes)."""
    for person in people:
        value = {**vars(person), "balance_cents": 10_000, "registered_at": now_ms()}
        full, headers = serde.envelope("UserProfile", value, "lesson11")
        data = serde.serialize(users, "UserProfile", full)
        producer.produce(users, key=person.user_id, value=data, headers=headers)
    producer.flush(30)


def read_log(
    lab: Lab, serde: EventSerde, users: str, superseded: list[Person], timeout: float
) -> tuple[list[Kept], float]:
    """The users topic from offset 0, read again until no `superseded` profile is left on it
    or `timeout` seconds passed; returns what was read last and how long it took."""
    started = time.monotonic()
    gone = {(p.user_id, p.name) for p in superseded}
    while True:
        events = read_to_end(lab.conn, serde, users, timeout=10, group_id=lab.group("log"))
        log = [
            Kept(e.offset, str(e.value["user_id"]), str(e.value["name"]), str(e.value["email"]))
            for e in events
        ]
        waited = time.monotonic() - started
        if not gone & {(k.user_id, k.name) for k in log} or waited > timeout:
            return log, waited
        time.sleep(0.5)
