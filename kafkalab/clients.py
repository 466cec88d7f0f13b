"""The one place that builds Kafka and schema-registry clients.

Services, lessons, tools and tests get their producers, consumers and admin clients here, built
from a `Connection` their edge resolved once, so the bootstrap address, security settings and
client defaults live in one spot instead of a config dict copied into every file. Nothing here
reads a file or the environment.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kafkalab.connection import Connection

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from quixstreams.kafka.configuration import ConnectionConfig

_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


def base_config(conn: Connection) -> dict[str, Any]:
    """librdkafka settings shared by every client kafkalab creates: the connection's own.

    librdkafka's own log lines go through Python logging (logger "librdkafka"), so its
    warnings and errors still show but its info chatter does not interleave with our output.
    """
    return {**conn.librdkafka(), "logger": _LIBRDKAFKA_LOG}


def quix_connection(conn: Connection) -> ConnectionConfig:
    """The same connection (address, SASL_SSL, credentials) as quixstreams wants it."""
    from quixstreams.kafka.configuration import ConnectionConfig

    return ConnectionConfig.from_librdkafka_dict(conn.librdkafka())


def admin(conn: Connection, **overrides: Any) -> AdminClient:
    return AdminClient({**base_config(conn), **overrides})


def high_watermarks(
    admin: AdminClient, partitions: Iterable[TopicPartition], timeout: float = 5.0
) -> list[TopicPartition]:
    """Each partition's end offset now, asked in one ListOffsets request per leader. Raises
    KafkaException when a partition cannot say (no leader, timeout).

    Why not `Consumer.get_watermark_offsets` on a consumer that is fetching: a broker answers
    one connection's requests in order, so each lookup waits behind the consumer's long-poll
    fetch (`fetch.wait.max.ms`, 500 ms): the six partitions of `order-events` took 3 s that
    way, against 2 ms through an admin client's own connection.
    """
    wanted = {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in partitions}
    if not wanted:
        return []
    futures = admin.list_offsets(wanted, request_timeout=timeout)
    try:
        return [
            TopicPartition(tp.topic, tp.partition, int(future.result(timeout).offset))
            for tp, future in futures.items()
        ]
    except concurrent.futures.TimeoutError as exc:
        # The future's own timeout is not a KafkaException; callers handle only those (a busy
        # machine's first request on a new admin connection took over 2 s on CI).
        raise KafkaException(
            KafkaError(KafkaError._TIMED_OUT, f"no end offsets within {timeout:g} s")
        ) from exc


def producer(conn: Connection, **overrides: Any) -> Producer:
    """An idempotent producer (acks=all): the default every kafkalab writer starts from.

    `murmur2_random` is the Java client's key hash (and quixstreams'): librdkafka's default,
    consistent_random, would put the same key on another partition than a Java producer does.
    """
    conf = {
        **base_config(conn),
        "enable.idempotence": True,
        "linger.ms": 5,
        "partitioner": "murmur2_random",
    }
    return Producer({**conf, **overrides})


def consumer(conn: Connection, group_id: str, **overrides: Any) -> Consumer:
    """A consumer in `group_id` that reads from the earliest offset when it has none committed."""
    conf = {
        **base_config(conn),
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    return Consumer({**conf, **overrides})


def service_membership(member: str) -> dict[str, Any]:
    """Group settings of a long-running service replica: a static member (KIP-345) named
    `member`, cooperative-sticky assignment, a 10 s session.

    Why static: a replica SIGKILLed and restarted by the supervisor comes back as the same
    member and gets its partitions straight back, with no rebalance. A dynamic member's
    partitions would stay with its dead self until the session timed out, so a replica killed
    every few seconds (`kafkalab chaos kill payment --every 3`) would never own anything.
    The price: a static member sends no LeaveGroup on close, so a replica stopped on purpose
    must leave with `leave_group()` or its partitions wait out the session.
    """
    return {
        "group.instance.id": member,
        "partition.assignment.strategy": "cooperative-sticky",
        # A replica that does not come back loses its partitions after 10 s, not 45 s.
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 2_000,
    }


def leave_group(consumer: Consumer, timeout: float = 5.0) -> None:
    """Leave the group now, then close: a stopped replica's partitions move at once.

    librdkafka skips the LeaveGroup of a static member on close(), but not on unsubscribe():
    unsubscribing revokes the assignment and, once the revocation has run (it runs inside
    poll), sends LeaveGroup. So unsubscribe, poll until nothing is assigned, then close.
    """
    try:
        consumer.unsubscribe()
        deadline = time.monotonic() + timeout
        while consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.1)
        consumer.poll(0.1)  # lets the LeaveGroup that follows the revocation go out
    except KafkaException as exc:
        _LIBRDKAFKA_LOG.warning("leaving the group failed, closing anyway: %s", exc)
    finally:
        consumer.close()


def close_all(consumers: list[Consumer], timeout: float = 5.0) -> None:
    """Close several members of one group without librdkafka's close-during-rebalance hang.

    Closing one member rebalances the others; a member closed with that assignment still
    queued runs it inside close(), and its assign() then waits forever on a group that is
    shutting down (librdkafka #4884, open). So all unsubscribe first, poll until none holds a
    partition (each revocation runs inside poll), and only then close."""
    try:
        for consumer in consumers:
            consumer.unsubscribe()
        deadline = time.monotonic() + timeout
        while any(c.assignment() for c in consumers) and time.monotonic() < deadline:
            for consumer in consumers:
                consumer.poll(0.02)
    except KafkaException as exc:
        _LIBRDKAFKA_LOG.warning("leaving the group failed, closing anyway: %s", exc)
    finally:
        for consumer in consumers:
            consumer.close()


def is_fatal(error: KafkaError) -> bool:
    """A fatal client error: this consumer or producer will never work again.

    Why three tests: a fatal error handed over as a consumed message's error (a static member
    fenced by its own successor, FENCED_INSTANCE_ID) has the code `_FATAL` but `fatal()`
    False; only the error that `rd_kafka_fatal_error()` returns carries the flag. And a commit
    refused for the same reason may carry the broker's own code, FENCED_INSTANCE_ID, without
    the flag: a fenced static member never works again either way.
    """
    return bool(error.fatal()) or error.code() in (
        KafkaError._FATAL,
        KafkaError.FENCED_INSTANCE_ID,
    )


def consume_ready(consumer: Consumer, max_messages: int, timeout: float) -> list[Message]:
    """Up to `max_messages` records: whatever is already fetched, else wait up to `timeout` for
    the first one and take what arrived with it.

    Why not `consumer.consume(max_messages, timeout)`: it waits the whole `timeout` unless the
    batch fills, so at low traffic every hop of the pipeline would add `timeout` of latency.
    """
    messages = consumer.consume(max_messages, timeout=0)
    if messages:
        return messages
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(max_messages - 1, timeout=0)] if max_messages > 1 else [first]


def schema_registry(conn: Connection) -> SchemaRegistryClient:
    # Imported here: the registry client pulls in httpx and authlib (~0.3 s), which most
    # processes that only produce or consume never need.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient(conn.registry())
