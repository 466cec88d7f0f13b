"""The grader's own eyes: read a topic back from the broker, independently of the learner.

No consumer group membership (partitions are assigned, nothing is committed), so reading never changes
what the learner's group did; reads stop at the end offsets taken when the read began.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.observe.readback import watermarks


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
            # asked again while a new leader's high watermark catches up after an election
            low, high = watermarks(consumer, TopicPartition(topic, partition))
            if high > low:
                ends[partition] = high
        if not ends:
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        records: list[Record] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            # consume() waits out its timeout unless the batch fills: keep it short
            for message in consumer.consume(500, timeout=0.1):
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


@dataclass(frozen=True)
class ActiveProducer:
    """A producer a partition keeps state for: one that wrote to it idempotently or in a
    transaction (KIP-664 DescribeProducers)."""

    producer_id: int
    epoch: int
    open_since: int | None
    """The first offset of its transaction still open on this partition (None: none open)."""


def active_producers(conn: Connection, topic: str) -> dict[int, list[ActiveProducer]]:
    """Per partition of `topic`, the producers its leader keeps state for. A transactional
    producer keeps one producer id across restarts with the same transactional.id (a restart
    bumps the epoch); a plain idempotent producer gets a new id each time it starts."""
    from kafka.structs import TopicPartition as KafkaTopicPartition

    admin = _kafka_python_admin(conn)
    try:
        partitions = [KafkaTopicPartition(topic, p) for p in range(partition_count(conn, topic))]
        states = admin.describe_producers(partitions)
    finally:
        admin.close()
    return {
        tp.partition: [
            ActiveProducer(
                producer_id=p.producer_id,
                epoch=p.producer_epoch,
                open_since=(
                    p.current_transaction_start_offset
                    if p.current_transaction_start_offset >= 0
                    else None
                ),
            )
            for p in state.active_producers
        ]
        for tp, state in states.items()
    }


def transactional_ids(conn: Connection, producer_ids: set[int]) -> dict[int, str]:
    """The transactional.id behind each of `producer_ids` that has one (ListTransactions);
    plain idempotent producers are left out."""
    if not producer_ids:
        return {}
    admin = _kafka_python_admin(conn)
    try:
        listings = admin.list_transactions(producer_id_filters=sorted(producer_ids))
    finally:
        admin.close()
    return {
        listing.producer_id: listing.transactional_id
        for per_broker in listings.values()
        for listing in per_broker
    }


def _kafka_python_admin(conn: Connection) -> Any:
    """kafka-python's admin client: it speaks DescribeProducers and ListTransactions, which
    confluent-kafka's AdminClient does not."""
    from kafka.admin import KafkaAdminClient

    conf: dict[str, Any] = {
        "bootstrap_servers": conn.bootstrap_servers.split(","),
        "security_protocol": conn.security_protocol,
    }
    optional = {
        "sasl_mechanism": conn.sasl_mechanism,
        "sasl_plain_username": conn.sasl_username,
        "sasl_plain_password": conn.sasl_password,
        "ssl_cafile": conn.ssl_ca_location,
        "ssl_certfile": conn.ssl_certificate_location,
        "ssl_keyfile": conn.ssl_key_location,
        "ssl_password": conn.ssl_key_password,
    }
    conf.update({key: value for key, value in optional.items() if value is not None})
    return KafkaAdminClient(**conf)


SHARE_STATE_TOPIC = "__share_group_state"
DELIVERY_STATES = {0: "available", 1: "acquired", 2: "acknowledged", 4: "archived"}
"""A share-group record's states as the share coordinator writes them (KIP-932): available
(again), acknowledged (accepted), archived (rejected, or given up at the delivery count limit)."""


@dataclass(frozen=True)
class ShareDelivery:
    """One state the share coordinator wrote for a record: what became of it, after how many
    deliveries."""

    state: str
    deliveries: int


@dataclass
class ShareState:
    """A share group's durable state for one partition, as the broker's share coordinator wrote
    it to `__share_group_state`: every state change of every record, oldest first."""

    start_offset: int = -1
    """The last share-partition start offset (SPSO) written; -1 before the first delivery."""
    records: dict[int, list[ShareDelivery]] = field(default_factory=dict)

    def final(self, offset: int) -> ShareDelivery | None:
        history = self.records.get(offset)
        return history[-1] if history else None


def share_state(conn: Connection, group: str, topic: str, partition: int = 0) -> ShareState:
    """What the broker recorded of `group`'s deliveries of `topic`[`partition`]: read from the
    share coordinator's own log, `__share_group_state` (assign-only, like read_all). A record is
    there once it was acknowledged, released, rejected or archived; a record still only acquired
    (or never delivered) is not. Each ShareSnapshot/ShareUpdate record is decoded as Kafka 4.3
    writes it (a 2-byte type and the key's group, topic id and partition; a flexible value)."""
    admin: AdminClient = clients.admin(conn)
    described = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=15)
    uuid = described.topic_id
    topic_id = uuid.get_most_significant_bits().to_bytes(
        8, "big", signed=True
    ) + uuid.get_least_significant_bits().to_bytes(8, "big", signed=True)
    state = ShareState()
    if SHARE_STATE_TOPIC not in admin.list_topics(timeout=10).topics:
        return state  # no share group has ever delivered a record on this cluster
    for record in read_all(conn, SHARE_STATE_TOPIC, isolation="read_uncommitted"):
        decoded = decode_share_record(record.key or b"", record.value)
        if decoded is None or decoded[0:3] != (group, topic_id, partition):
            continue
        _, _, _, start, batches = decoded
        if start >= 0:
            state.start_offset = start
        for first, last, code, count in batches:
            for offset in range(first, last + 1):
                delivery = ShareDelivery(DELIVERY_STATES.get(code, str(code)), count)
                state.records.setdefault(offset, []).append(delivery)
    return state


def decode_share_record(
    key: bytes, value: bytes | None
) -> tuple[str, bytes, int, int, list[tuple[int, int, int, int]]] | None:
    """(group, topic id, partition, start offset, [(first, last, state, deliveries)]) of one
    `__share_group_state` record; None for a tombstone or a record of another kind."""
    if value is None or len(key) < 2:
        return None
    kind = int.from_bytes(key[:2], "big")
    if kind not in (0, 1):  # 0 ShareSnapshot, 1 ShareUpdate
        return None
    size = int.from_bytes(key[2:4], "big")
    group = key[4 : 4 + size].decode()
    topic_id = key[4 + size : 20 + size]
    partition = int.from_bytes(key[20 + size : 24 + size], "big", signed=True)
    reader = _Bytes(value[2:])  # after the value's version
    if kind == 0:  # snapshot epoch, state epoch, leader epoch
        reader.take(12)
    else:  # snapshot epoch, leader epoch
        reader.take(8)
    start = reader.number(8)
    if kind == 0:  # create and write timestamps
        reader.take(16)
    batches = []
    for _ in range(reader.varint() - 1):  # a compact array: its length + 1
        first, last = reader.number(8), reader.number(8)
        code, count = reader.number(1), reader.number(2)
        reader.skip_tags()
        batches.append((first, last, code, count))
    return group, topic_id, partition, start, batches


class _Bytes:
    """Kafka's wire encoding, read front to back: big-endian ints, unsigned varints."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.at : self.at + n]
        if len(chunk) < n:
            raise ValueError("a __share_group_state record ended early")
        self.at += n
        return chunk

    def number(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big", signed=True)

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def skip_tags(self) -> None:
        for _ in range(self.varint()):
            self.varint()  # the tag
            self.take(self.varint())  # its size, then its bytes


def set_broker_logger(conn: Connection, logger: str, level: str | None) -> None:
    """Set `logger`'s log4j level on every broker at runtime (KIP-412's BROKER_LOGGER configs,
    which confluent-kafka's AdminClient cannot alter); `level` None hands it back to the
    broker's own configuration. A grader turns `kafka.authorizer.logger` to DEBUG this way to
    read, in the broker's log, which principal each allowed request came from."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _kafka_python_admin(conn)
    try:
        brokers = [b["broker_id"] for b in admin.describe_cluster()["brokers"]]
        setting: Any = ("DELETE", None) if level is None else level
        resources = [
            ConfigResource(ConfigResourceType.BROKER_LOGGER, str(node), {logger: setting})
            for node in brokers
        ]
        answers = admin.alter_configs(resources, raise_on_unknown=False)
    finally:
        admin.close()
    refused = [
        f"broker {node}: {answer}"
        for node, answer in answers.get("broker_logger", {}).items()
        if answer != "OK"
    ]
    if refused:
        raise RuntimeError(f"could not set {logger}: {'; '.join(refused)}")
