"""What the pipeline wrote during a run, counted from the topics themselves.

End offsets are taken before and after; then the records in between are read once
(read_committed, so aborted transactional records and commit markers — which take offsets
but are not events — are not counted) to get exact record and byte counts per topic and per
writing service. Reading happens after the run, so it never competes with the load for CPU.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from kafkalab import clients
from kafkalab.catalogue.services import SERVICES
from kafkalab.connection import Connection
from kafkalab.load.report import Volume

Offsets = dict[tuple[str, int], int]
INTERNAL_PREFIXES = ("__", "_schemas", "kafkalab-baseline-")


def writer(topic: str) -> str:
    """The service that writes `topic` (each platform topic has exactly one writer)."""
    if topic.startswith(("repartition__kafkalab-analytics", "changelog__kafkalab-analytics")):
        return "analytics"  # quixstreams' own state and repartition topics
    if topic in ("refunds", "refunds.DLT"):
        return "refund"  # the learner's service (lesson 22, `kafkalab up --with refund`)
    if topic.endswith(".DLT"):
        return "payment" if topic == "payments.DLT" else topic.removesuffix(".DLT")
    fixed = {
        "user-events": "user",
        "users": "user",
        "order-events": "order",
        "inventory-requests": "order",
        "inventory-events": "inventory",
        "inventory-replies": "inventory",
        "stock": "inventory",
        "payments": "payment",
        "payments.retry": "payment",
        "analytics": "analytics",
        "audit": "user",
    }
    if topic in fixed:
        return fixed[topic]
    if topic.startswith("notifications"):
        return "notification"
    return "other"


def wait_quiet(
    conn: Connection, quiet: float = 1.5, timeout: float = 30.0, poll: float = 0.5
) -> tuple[Offsets, bool]:
    """End offsets once no topic has grown for `quiet` seconds (every consumer group done with
    the run's work, since each step writes its result), or after `timeout`. Returns the last
    offsets seen and whether the platform went quiet.

    Why not "every group's lag is 0": a group that commits a record's offset + 1 rather than
    its position stops one short of a transaction marker, so its lag never reads 0.
    """
    deadline = time.monotonic() + timeout
    last = end_offsets(conn)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(poll)
        now = end_offsets(conn)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return last, True
    return last, False


def end_offsets(conn: Connection, timeout: float = 10.0) -> Offsets:
    """High watermark of every partition of every non-internal topic."""
    admin = clients.admin(conn)
    metadata = admin.list_topics(timeout=timeout)
    partitions = [
        TopicPartition(name, p)
        for name, topic in metadata.topics.items()
        if not name.startswith(INTERNAL_PREFIXES)
        for p in topic.partitions
    ]
    ends = clients.high_watermarks(admin, partitions, timeout=timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in ends}


@dataclass
class Counted:
    volume: Volume
    by_service: dict[str, int] = field(default_factory=dict)
    last_timestamp_ms: int = 0
    """The newest record's timestamp: when the pipeline wrote its last event of the run."""


def count_between(
    conn: Connection, before: Offsets, after: Offsets, timeout: float = 60.0
) -> Counted:
    """Records and bytes (key + value + header bytes) in [before, after) of each partition."""
    ranges = {
        key: (before.get(key, 0), end) for key, end in after.items() if end > before.get(key, 0)
    }
    counted = Counted(Volume())
    if not ranges:
        return counted
    consumer = clients.consumer(conn, "kafkalab-load-volume", **{"enable.auto.commit": False})
    by_topic: Counter[str] = Counter()
    size = 0
    newest = 0
    try:
        consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in ranges.items()])
        open_ranges = {key: end for key, (_, end) in ranges.items()}
        deadline = time.monotonic() + timeout
        idle_since = time.monotonic()
        while open_ranges and time.monotonic() < deadline:
            batch = consumer.consume(5000, timeout=0.2)
            for msg in batch:
                if msg.error() is not None:
                    continue
                key = (msg.topic(), msg.partition())
                end = open_ranges.get(key)
                if end is None or msg.offset() >= end:
                    continue
                by_topic[key[0]] += 1
                newest = max(newest, msg.timestamp()[1])
                size += len(msg.value() or b"") + len(msg.key() or b"")
                for name, value in msg.headers() or ():
                    size += len(name) + len(value or b"")
            if batch:
                idle_since = time.monotonic()
            # Commit markers and aborted records take offsets nobody is handed: the position
            # says when a partition's range is done.
            for tp in consumer.position([TopicPartition(t, p) for t, p in open_ranges]):
                if tp.offset >= open_ranges.get((tp.topic, tp.partition), 0):
                    open_ranges.pop((tp.topic, tp.partition), None)
            if not batch and time.monotonic() - idle_since > 3.0:
                break  # the rest is an open transaction's tail: nothing more will come
    finally:
        consumer.close()
    counted.volume = Volume(sum(by_topic.values()), size, dict(sorted(by_topic.items())))
    counted.last_timestamp_ms = newest
    services: Counter[str] = Counter()
    for topic, count in by_topic.items():
        services[writer(topic)] += count
    counted.by_service = {s: services.get(s, 0) for s in SERVICES} | (
        {"other": services["other"]} if services.get("other") else {}
    )
    return counted
