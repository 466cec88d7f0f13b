"""The grader's own eyes: read a topic back from the broker, independently of the learner.

No consumer group membership (partitions are assigned, nothing is committed), so reading never changes
what the learner's group did; reads stop at the end offsets taken when the read began.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from kafkalab import clients
from kafkalab.connection import Connection


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp: int

    @property
    def text_key(self) -> str:
        return (self.key or b"").decode(errors="replace")

    @property
    def text(self) -> str:
        return (self.value or b"").decode(errors="replace")


def read_all(
    conn: Connection, topic: str, isolation: str = "read_committed", timeout: float = 20.0
) -> list[Record]:
    """Every record of `topic` up to its current end, in partition/offset order."""
    consumer = _reader(conn, isolation)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends: dict[int, int] = {}
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10, cached=False
            )
            if high > low:
                ends[partition] = high
        if not ends:
            return []
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records: list[Record] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error():
                    continue
                partition, offset = message.partition(), message.offset()
                if partition is None or offset is None:
                    continue
                records.append(
                    Record(
                        partition=partition,
                        offset=offset,
                        key=message.key(),
                        value=message.value(),
                        headers={
                            k: (v or b"") for k, v in (message.headers() or []) if k is not None
                        },
                        timestamp=message.timestamp()[1],
                    )
                )
                if offset + 1 >= ends[partition]:
                    done.add(partition)
            # under read_committed a partition may end in an aborted batch or a marker:
            # its position past the last readable record says it is done
            for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                if tp.offset >= ends[tp.partition]:
                    done.add(tp.partition)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def committed(conn: Connection, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (partitions without one left out)."""
    admin: AdminClient = clients.admin(conn)
    request = [ConsumerGroupTopicPartitions(group)]
    future = admin.list_consumer_group_offsets(request, request_timeout=10)[group]
    result = future.result(timeout=15)
    return {
        tp.partition: tp.offset
        for tp in result.topic_partitions or []
        if tp.topic == topic and tp.offset >= 0
    }


def partition_count(conn: Connection, topic: str) -> int:
    admin: AdminClient = clients.admin(conn)
    return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def _reader(conn: Connection, isolation: str) -> Consumer:
    conf = {
        **clients.base_config(conn),
        # librdkafka wants a group id; with assign() and no commits it never joins or writes it
        "group.id": "kafkalab-grader",
        "isolation.level": isolation,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }
    return Consumer(conf)
