"""The smoke round trip: Avro events through the real broker and registry, checked on the way back.

It is what the README's first command proves today: a topic is created, events are
serialized with confluent-kafka's AvroSerializer (registering the schema), produced with
keys, consumed back by a fresh group and deserialized by schema id; then each expectation is
checked against what actually came back through Kafka.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from kafkalab import clients, verdict
from kafkalab.connection import Connection
from kafkalab.errors import ClusterNotRunning
from kafkalab.events.schemas import schema_text
from kafkalab.explained import describe, lesson_for, see_lesson
from kafkalab.verdict import Check


@dataclass
class RoundTrip:
    topic: str
    events: int
    keys: int
    schema_id: int | None = None
    produce_seconds: float = 0.0
    consume_seconds: float = 0.0
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks)


def _record_subject(ctx: SerializationContext, record_name: str) -> str:
    return record_name


def run_round_trip(conn: Connection, events: int = 1000, keys: int = 10) -> RoundTrip:
    """Produce `events` Avro events over `keys` keys to a fresh topic and read them all back."""
    topic = f"kafkalab-smoke-{uuid.uuid4().hex[:8]}"
    result = RoundTrip(topic=topic, events=events, keys=keys)
    admin = clients.admin(conn)
    futures = admin.create_topics([NewTopic(topic, num_partitions=3)])
    try:
        futures[topic].result(timeout=15)
    except Exception as exc:  # noqa: BLE001 - any failure here means the cluster is not usable
        raise ClusterNotRunning(
            f"could not create a topic on {conn.bootstrap_servers}: {exc}"
        ) from exc
    try:
        _produce_and_check(conn, result)
    finally:
        with contextlib.suppress(Exception):  # best effort: a leftover topic is harmless
            admin.delete_topics([topic])[topic].result(timeout=10)
    return result


def _produce_and_check(conn: Connection, result: RoundTrip) -> None:
    registry = clients.schema_registry(conn)
    schema = schema_text("SmokeEvent")
    serialize = AvroSerializer(registry, schema, conf={"subject.name.strategy": _record_subject})
    deserialize = AvroDeserializer(registry)
    key_bytes = StringSerializer()
    ctx = SerializationContext(result.topic, MessageField.VALUE)

    sent: list[dict[str, object]] = []
    producer = clients.producer(conn)
    started = time.monotonic()
    now_ms = int(time.time() * 1000)
    for i in range(result.events):
        key = f"user-{i % result.keys}"
        event = {
            "event_id": str(uuid.uuid4()),
            "key": key,
            "seq": i // result.keys,
            "occurred_at": now_ms,
        }
        sent.append(event)
        producer.produce(result.topic, key=key_bytes(key), value=serialize(event, ctx))
        producer.poll(0)  # serve delivery callbacks as we go
    undelivered = producer.flush(30)
    result.produce_seconds = time.monotonic() - started
    result.checks.append(
        Check(
            "delivered",
            undelivered == 0,
            f"{result.events - undelivered}/{result.events} acknowledged (acks=all)",
        )
    )

    received: list[tuple[int, dict[str, object]]] = []
    schema_ids: set[int] = set()
    consumer = clients.consumer(conn, group_id=f"kafkalab-smoke-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([result.topic])
    started = time.monotonic()
    try:
        while len(received) < result.events and time.monotonic() - started < 30:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        error = msg.error()
                        lesson = lesson_for(error)
                        hint = see_lesson(lesson) if lesson is not None else None
                        raise ClusterNotRunning(f"consuming failed: {describe(error)}", hint)
                    continue
                raw = msg.value()
                schema_ids.add(int.from_bytes(raw[1:5], "big"))
                received.append((msg.partition(), deserialize(raw, ctx)))
        consumer.commit(asynchronous=False) if received else None
        committed = consumer.committed(
            [TopicPartition(result.topic, p) for p in range(3)], timeout=10
        )
    finally:
        consumer.close()
    result.consume_seconds = time.monotonic() - started

    result.schema_id = next(iter(schema_ids)) if len(schema_ids) == 1 else None
    registered = registry.get_latest_version("dev.kafkalab.smoke.SmokeEvent")
    result.checks.append(
        Check(
            "schema registered",
            result.schema_id == registered.schema_id,
            f"every message carries schema id {sorted(schema_ids)}; registry latest id {registered.schema_id}",
        )
    )
    result.checks.append(
        Check(
            "all consumed",
            len(received) == result.events,
            f"{len(received)}/{result.events} read back",
        )
    )
    by_id = {str(e["event_id"]): e for e in sent}
    intact = sum(1 for _, event in received if by_id.get(str(event["event_id"])) == _plain(event))
    result.checks.append(
        Check(
            "decoded intact",
            intact == result.events,
            f"{intact}/{result.events} equal to what was sent",
        )
    )
    result.checks.append(_order_per_key(received, result.keys))
    total_committed = sum(max(tp.offset, 0) for tp in committed)
    result.checks.append(
        Check(
            "offsets committed",
            total_committed == len(received),
            f"group committed {total_committed} offsets",
        )
    )


def _plain(event: dict[str, object]) -> dict[str, object]:
    """Deserialized logical types back to what was produced (uuid → str, datetime → ms)."""
    occurred = event["occurred_at"]
    millis = int(occurred.timestamp() * 1000) if hasattr(occurred, "timestamp") else occurred
    return {**event, "event_id": str(event["event_id"]), "occurred_at": millis}


def _order_per_key(received: list[tuple[int, dict[str, object]]], keys: int) -> Check:
    partitions: dict[str, set[int]] = {}
    last: dict[str, int] = {}
    in_order = True
    for partition, event in received:
        key = str(event["key"])
        partitions.setdefault(key, set()).add(partition)
        seq = int(event["seq"])  # type: ignore[call-overload]
        if seq != last.get(key, -1) + 1:
            in_order = False
        last[key] = seq
    one_partition = all(len(parts) == 1 for parts in partitions.values())
    return Check(
        "order per key",
        in_order and one_partition and len(partitions) == keys,
        f"{len(partitions)} keys, each on one partition, sequence numbers "
        + ("in order" if in_order else "OUT OF ORDER"),
    )
