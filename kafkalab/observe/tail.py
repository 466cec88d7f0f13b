"""Records of one topic, decoded, as `kafkalab tail` shows them: the last N, or all, or live.

The consumer is assigned (not subscribed): no group is joined and no offset committed, so
tailing never moves a service's position or triggers a rebalance. It reads read_committed, so
records of an open or aborted transaction do not show. Records that are not registered Avro
(poison, a tombstone on a compacted topic) are shown as such instead of being skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events import topics as t
from kafkalab.events.serde import HEADER_TYPE, Event, EventSerde, UndecodableEvent
from kafkalab.observe import reach
from kafkalab.observe.trace import summarize

DEFAULT_LIMIT = 20
SCAN = 5000  # records per partition a browse reads at most
NOT_AVRO = "(not Avro)"
TOMBSTONE = "(tombstone)"


class UnknownTopic(KafkalabError):
    pass


@dataclass
class TailRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    type: str  # the event type, NOT_AVRO or TOMBSTONE
    summary: str  # the fields a learner wants on one line
    headers: dict[str, str] = field(default_factory=dict)
    value: dict[str, Any] | None = None  # the decoded Avro record (None: not Avro, tombstone)


def check_topic(conn: Connection, topic: str) -> None:
    """UnknownTopic (one sentence naming the catalogue) unless `topic` exists on the cluster."""
    existing = reach.topic_names(conn)
    if topic in existing:
        return
    names = [spec.name for spec in t.CATALOGUE]
    if topic in names:
        raise UnknownTopic(
            f"topic {topic} is in the catalogue but not on the cluster yet",
            "`kafkalab up` creates every catalogue topic",
        )
    raise UnknownTopic(f"unknown topic {topic!r}", f"the catalogue: {', '.join(names)}")


def tail(
    conn: Connection,
    topic: str,
    from_beginning: bool = False,
    limit: int | None = None,
    follow: bool = False,
    idle: Callable[[], None] | None = None,
) -> Iterator[TailRecord]:
    """The records of `topic`, oldest first.

    Without `from_beginning`: the last `limit` (default 20) records across all partitions, by
    timestamp. With it: every record from the first offset (the first `limit` if given).
    With `follow`: then every new record as it arrives, until the caller stops iterating
    (`idle` is called between empty polls, e.g. to let a test stop the loop).
    """
    check_topic(conn, topic)
    reach.require_registry(conn)  # else every record would show as "not Avro"
    serde = EventSerde(conn)
    consumer = clients.consumer(conn, "kafkalab-tail", **{"enable.auto.commit": False})
    try:
        starts, ends = _bounds(consumer, topic, from_beginning, limit or DEFAULT_LIMIT)
        backlog = [_record(serde, m) for m in _read_to_end(consumer, starts, ends)]
        backlog.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
        if from_beginning:
            backlog = backlog[:limit] if limit else backlog
        else:
            backlog = backlog[-(limit or DEFAULT_LIMIT) :]
        yield from backlog
        if not follow:
            return
        # Every partition from the end the backlog stopped at: nothing shown twice or skipped.
        consumer.assign([TopicPartition(topic, p, end) for (_, p), end in ends.items()])
        while True:
            batch = [m for m in consumer.consume(200, timeout=0.5) if not m.error()]
            for msg in batch:
                yield _record(serde, msg)
            if not batch and idle is not None:
                idle()
    finally:
        with contextlib.suppress(Exception):
            consumer.close()


def browse(
    conn: Connection,
    topic: str,
    partition: int | None = None,
    offset: int | None = None,
    since_ms: int | None = None,
    key: str | None = None,
    limit: int = DEFAULT_LIMIT,
    scan: int = SCAN,
) -> list[TailRecord]:
    """Records of `topic` as a message browser asks for them (the console's Topics page).

    From `offset` (each chosen partition, clamped to what it holds) or from the first record
    stamped at or after `since_ms`: the first `limit`. From neither: the last `limit`. With
    `key`: only records whose key contains it, looking at up to `scan` records per partition.
    The same reading as `tail`: assigned, read_committed, nothing committed.
    """
    check_topic(conn, topic)
    reach.require_registry(conn)
    serde = EventSerde(conn)
    consumer = clients.consumer(conn, "kafkalab-tail", **{"enable.auto.commit": False})
    from_end = offset is None and since_ms is None
    try:
        known = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        if partition is not None and partition not in known:
            raise UnknownTopic(
                f"{topic} has no partition {partition}", f"its partitions are 0–{len(known) - 1}"
            )
        starts, ends = [], {}
        for p in known if partition is None else [partition]:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if offset is not None:
                start = min(max(offset, low), high)
            elif since_ms is not None:
                [found] = consumer.offsets_for_times(
                    [TopicPartition(topic, p, since_ms)], timeout=10
                )
                start = high if found.offset < 0 else max(low, found.offset)
            else:
                start = max(low, high - (scan if key else limit))
            ends[(topic, p)] = min(high, start + scan)
            if ends[(topic, p)] > start:
                starts.append(TopicPartition(topic, p, start))
        records = [_record(serde, m) for m in _read_to_end(consumer, starts, ends)]
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
    if key:
        records = [r for r in records if r.key is not None and key in r.key]
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    return records[-limit:] if from_end else records[:limit]


def _bounds(
    consumer: Consumer, topic: str, from_beginning: bool, limit: int
) -> tuple[list[TopicPartition], dict[tuple[str, int], int]]:
    """Start offset per partition (first, or `limit` before the end) and every partition's end."""
    metadata = consumer.list_topics(topic, timeout=10)
    starts, ends = [], {}
    for partition in sorted(metadata.topics[topic].partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        ends[(topic, partition)] = high
        start = low if from_beginning else max(low, high - limit)
        if high > start:
            starts.append(TopicPartition(topic, partition, start))
    return starts, ends


def _read_to_end(
    consumer: Consumer, starts: list[TopicPartition], ends: dict[tuple[str, int], int]
) -> Iterator[Message]:
    """Every committed record from `starts` to the end offsets seen when tail began."""
    if not starts:
        return
    consumer.assign(starts)
    waiting = {(tp.topic, tp.partition): ends[(tp.topic, tp.partition)] for tp in starts}
    while waiting:
        for msg in consumer.consume(500, timeout=0.2):
            key = (msg.topic(), msg.partition())
            if msg.error() or msg.offset() >= ends[key]:
                continue  # past the end: `follow` reads it again from there
            yield msg
            if key in waiting and msg.offset() + 1 >= waiting[key]:
                del waiting[key]
        # Transaction markers (and aborted records) can end a partition: position says so.
        positions = consumer.position([TopicPartition(k[0], k[1]) for k in waiting])
        for tp in positions:
            if tp.offset >= waiting.get((tp.topic, tp.partition), 0):
                waiting.pop((tp.topic, tp.partition), None)


def _record(serde: EventSerde, msg: Message) -> TailRecord:
    headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
    raw_key = msg.key()
    key = raw_key.decode(errors="replace") if isinstance(raw_key, bytes) else raw_key
    where = (msg.topic(), msg.partition(), msg.offset(), msg.timestamp()[1])
    value = msg.value()
    if value is None:
        return TailRecord(*where, key, TOMBSTONE, "the key's value was deleted", headers)
    try:
        event = serde.decode(msg)
    except UndecodableEvent as exc:
        kind = headers.get(HEADER_TYPE)
        about = f"{len(value)} bytes" + (f", header says {kind}" if kind else "")
        return TailRecord(*where, key, NOT_AVRO, f"{about}: {_preview(value)} ({exc})", headers)
    return TailRecord(*where, key, event.type, describe(event), headers, event.value)


def describe(event: Event) -> str:
    """The trace's one-line summary, or the key fields of the table-like records."""
    value = event.value
    match event.type:
        case "StockLevel":
            return f"sku={value.get('sku')} available={value.get('available')} reserved={value.get('reserved')}"
        case "UserProfile":  # the table holds contact details: show who, not how to reach them
            return f"user={value.get('user_id')} name={value.get('name')}"
        case "AnalyticsWindow":
            return f"{value.get('metric')} {value.get('window')} = {value.get('value')}"
    return summarize(event)


def _preview(value: bytes, size: int = 24) -> str:
    text = value[:size].decode("ascii", errors="replace")
    printable = "".join(c if c.isprintable() else "." for c in text)
    return printable + ("…" if len(value) > size else "")
