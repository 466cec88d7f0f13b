"""A consumer group's committed offsets, read through a consumer of that group.

Why not `AdminClient.list_consumer_group_offsets`: when the group's coordinator moves (a broker
killed, paused or bounced), the broker answers the admin client's OffsetFetch with
NOT_COORDINATOR, and librdkafka (2.12.1, and still 2.15.0) then asks the client's own consumer
group to look the coordinator up again. An admin client has no consumer group: librdkafka
dereferences a NULL pointer in its main thread and the whole process dies with SIGSEGV
(`rd_kafka_cgrp_op` ← `rd_kafka_handle_OffsetFetch`, librdkafka issue #5040, fix proposed in
PR #5318). A consumer created with the group's id has that group object, so the same answer
only makes it find the new coordinator and retry, within `timeout`.

The consumer never subscribes, so it never joins the group: no rebalance, no member, and with
auto-commit off it writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from confluent_kafka import TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection

INTERNAL_PREFIX = "__"
"""Kafka's own topics (__consumer_offsets, __transaction_state): no group of ours reads them."""


def committed(
    conn: Connection, group: str, topics: Collection[str] | None = None, timeout: float = 10.0
) -> list[TopicPartition]:
    """The group's committed offset of every partition of `topics` (every topic but Kafka's own
    when None) that has one. An unknown group has none; a cluster that does not answer within
    `timeout` raises KafkaException."""
    consumer = clients.consumer(conn, group, **{"enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout)
        partitions = [
            TopicPartition(name, p)
            for name, topic in sorted(metadata.topics.items())
            if (name in topics if topics is not None else not name.startswith(INTERNAL_PREFIX))
            for p in sorted(topic.partitions)
        ]
        if not partitions:
            return []
        answer = consumer.committed(partitions, timeout=timeout)
    finally:
        consumer.close()
    return [tp for tp in answer if tp.error is None and tp.offset >= 0]
