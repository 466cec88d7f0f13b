"""The real broker, started by kafkalab: produce/consume, groups, idempotent up, status, restart."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema

from kafkalab import clients
from kafkalab.cluster import lifecycle
from kafkalab.connection import Connection
from kafkalab.observe.committed import committed as committed_offsets
from kafkalab.observe.lag import group_lag
from kafkalab.settings import Settings

pytestmark = pytest.mark.integration


def create_topic(conn: Connection, name: str, partitions: int, rf: int = 1) -> None:
    admin = clients.admin(conn)  # keep a reference: the futures die with the handle
    admin.create_topics([NewTopic(name, partitions, rf)])[name].result(timeout=30)


def consume_all(
    conn: Connection, topic: str, group: str, expected: int, limit: int | None = None
) -> list[Message]:
    """Read until `expected` messages (or `limit`) arrived; fails the test on a 60 s stall."""
    consumer = clients.consumer(conn, group, **{"enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[Message] = []
    want = expected if limit is None else limit
    idle = 0
    try:
        while len(out) < want and idle < 120:
            batch = consumer.consume(num_messages=min(1000, want - len(out)), timeout=0.5)
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error():
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    continue
                out.append(msg)
        if out:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return out


def test_ten_thousand_keyed_messages_keep_per_key_order(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("keyed")
    create_topic(conn, topic, partitions=6)
    producer = clients.producer(conn)
    keys = [f"order-{i}" for i in range(100)]
    for seq in range(100):
        for key in keys:
            producer.produce(topic, key=key, value=f"{key}|{seq}")
        producer.poll(0)
    assert producer.flush(30) == 0

    messages = consume_all(conn, topic, unique("group"), expected=10_000)

    assert len(messages) == 10_000
    seen: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for msg in messages:
        key, seq = msg.value().decode().split("|")
        assert msg.key().decode() == key
        seen.setdefault(key, []).append(int(seq))
        partitions.setdefault(key, set()).add(msg.partition())
    assert set(seen) == set(keys)
    assert all(seqs == list(range(100)) for seqs in seen.values())
    assert all(len(parts) == 1 for parts in partitions.values())
    assert len({p for parts in partitions.values() for p in parts}) > 1, (
        "keys spread over partitions"
    )


def test_consumer_group_commits_and_resumes(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    topic, group = unique("resume"), unique("group")
    create_topic(conn, topic, partitions=1)
    producer = clients.producer(conn)
    for i in range(100):
        producer.produce(topic, value=str(i))
    assert producer.flush(30) == 0

    first = consume_all(conn, topic, group, expected=100, limit=40)
    assert [int(m.value()) for m in first] == list(range(40))

    committed = clients.consumer(conn, group).committed([TopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == 40
    # What `kafkalab lag` reads, through a consumer of the group (observe/committed.py: the
    # admin client's way crashes while a coordinator moves): the offset, the lag, no member.
    [offset] = committed_offsets(conn, group, [topic])
    assert (offset.topic, offset.partition, offset.offset) == (topic, 0, 40)
    assert committed_offsets(conn, unique("never-committed"), [topic]) == []
    [lag] = group_lag(conn, [group])
    assert [(p.topic, p.committed, p.end) for p in lag.partitions] == [(topic, 40, 100)]
    admin = clients.admin(conn)
    described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    assert described.members == []  # read without joining: nobody rebalanced

    rest = consume_all(conn, topic, group, expected=60)
    assert [int(m.value()) for m in rest] == list(range(40, 100))


def test_up_twice_is_a_no_op(cluster: Settings) -> None:
    if cluster.external:
        pytest.skip("the suite runs against an external cluster")
    before = lifecycle.status(cluster)
    again = lifecycle.up(cluster)
    assert again.already_running
    assert again.started == []
    assert [b.pid for b in again.status.brokers] == [b.pid for b in before.brokers]
    assert again.status.registry and before.registry
    assert again.status.registry.pid == before.registry.pid


def test_status_reports_brokers_controller_topics_and_registry(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("status")
    create_topic(conn, topic, partitions=1)
    status = lifecycle.status(cluster)
    assert status.running
    assert status.controller_id == 1
    assert topic in status.topics
    assert status.registry is not None and status.registry.running
    assert all(b.running and b.pid for b in status.brokers)


AVRO_V1 = '{"type":"record","name":"Survivor","fields":[{"name":"id","type":"string"}]}'


def test_topic_schema_and_data_survive_down_and_up(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    if cluster.external:
        pytest.skip("the suite runs against an external cluster")
    topic, subject = unique("durable"), unique("durable-subject")
    create_topic(conn, topic, partitions=2)
    producer = clients.producer(conn)
    payload = uuid.uuid4().hex
    producer.produce(topic, key="k", value=payload)
    assert producer.flush(30) == 0
    schema_id = clients.schema_registry(conn).register_schema(subject, Schema(AVRO_V1, "AVRO"))

    stopped = lifecycle.down(cluster)
    assert "broker-1" in stopped and "registry" in stopped
    assert not lifecycle.status(cluster).running
    lifecycle.up(cluster)

    assert topic in lifecycle.status(cluster).topics
    registry = clients.schema_registry(conn)  # a new client: no cache
    assert registry.get_schema(schema_id).schema_str == AVRO_V1
    latest = registry.get_latest_version(subject)
    assert (latest.schema_id, latest.version) == (schema_id, 1)
    messages = consume_all(conn, topic, unique("group"), expected=1)
    assert [m.value().decode() for m in messages] == [payload]
