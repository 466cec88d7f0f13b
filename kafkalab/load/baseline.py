"""The raw bound: how fast this broker moves the same records with no services in between.

confluent-kafka only — an idempotent acks=all producer (the services' conn) writing
`messages` records of `size` bytes to a fresh 6-partition topic, while a read_committed
consumer in another thread reads them back. The time is first produce → last record consumed.
Dividing the pipeline's events/s by this gives the share of raw Kafka speed the six Python
services reach; the rest is their work (Avro, HTTP, state machines, transactions).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid

from confluent_kafka import KafkaError
from confluent_kafka.admin import NewTopic

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.load.report import Baseline

PARTITIONS = 6


class BaselineFailed(KafkalabError):
    hint = "check the broker with `kafkalab cluster status`; the load figures above still hold"


def measure(conn: Connection, messages: int, size: int, pipeline_events_per_s: float) -> Baseline:
    """Produce→consume `messages` × `size` bytes on a throw-away topic; delete it afterwards."""
    messages, size = max(messages, 1), max(size, 1)
    topic = f"kafkalab-baseline-{uuid.uuid4().hex[:8]}"
    admin = clients.admin(conn)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS)])[topic].result(timeout=15)
    except Exception as exc:  # noqa: BLE001
        raise BaselineFailed(f"could not create the baseline topic: {exc}") from exc
    try:
        seconds = _produce_consume(conn, topic, messages, size)
    finally:
        # A leftover topic would be harmless (prefixed, left out of every count): best effort.
        with contextlib.suppress(Exception):
            admin.delete_topics([topic])[topic].result(timeout=15)
    raw = messages / seconds if seconds > 0 else 0.0
    return Baseline(
        messages=messages,
        message_bytes=size,
        seconds=round(seconds, 3),
        msgs_per_s=round(raw, 1),
        pipeline_events_per_s=round(pipeline_events_per_s, 1),
        ratio=round(pipeline_events_per_s / raw, 4) if raw else 0.0,
    )


def _produce_consume(conn: Connection, topic: str, messages: int, size: int) -> float:
    consumer = clients.consumer(
        conn,
        f"kafkalab-baseline-{uuid.uuid4().hex[:8]}",
        **{"enable.auto.commit": False, "fetch.wait.max.ms": 50},
    )
    consumer.subscribe([topic])
    # Join the group before the clock starts, so the measured time is not a rebalance.
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    received = 0
    finished = threading.Event()
    last_at = [0.0]

    def consume() -> None:
        nonlocal received
        stop_at = time.monotonic() + 120
        while received < messages and time.monotonic() < stop_at:
            for msg in consumer.consume(5000, timeout=0.2):
                if msg.error() is None or msg.error().code() != KafkaError._PARTITION_EOF:
                    received += msg.error() is None
        last_at[0] = time.monotonic()
        finished.set()

    producer = clients.producer(conn, **{"linger.ms": 5})
    payload = os.urandom(size)
    reader = threading.Thread(target=consume, name="baseline-consumer", daemon=True)
    started = time.monotonic()
    reader.start()
    for i in range(messages):
        while True:
            try:
                producer.produce(topic, key=str(i % 1000).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    finished.wait(130)
    consumer.close()
    if received < messages:
        raise BaselineFailed(f"the baseline consumer read {received} of {messages} records")
    return last_at[0] - started
