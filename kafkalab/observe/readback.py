"""Read a time range of the platform topics back, fast: the checker's reader.

Why a reader of its own (and not `trace.read_events`): the checker must cost what its window
holds, not what the topics have held since the cluster was made. So each partition is read
over a *span* of offsets found by time (`offsets_for_times`: the first record stamped at or
after a moment), records are fetched in large batches, the values are decoded with fastavro
and the writer's schema (`events/fastdecode.py`), and a record the checker has no use for is
counted but never decoded (`keep` looks at its topic and key first).

A span's end is either the partition's end (read_committed: the consumer's position passes
the last committed record, transaction markers included) or a fixed offset (a look-back that
stops where the window began). `strict` readers raise ReadIncomplete rather than judge half a
topic.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.fastdecode import FastDecoder
from kafkalab.events.serde import Event, UndecodableEvent
from kafkalab.observe.trace import ReadIncomplete

BATCH = 5_000
RETRIES = 8  # metadata questions asked again while a partition has no leader yet
META_TIMEOUT = 10.0
# Larger fetches than librdkafka's defaults: the reader wants throughput, not latency.
FETCH = {
    "enable.auto.commit": False,
    "max.partition.fetch.bytes": 8 * 1024 * 1024,
    "fetch.wait.max.ms": 50,
}

Keep = Callable[[str, bytes | None], bool]
"""(topic, key) → decode this record? Every record is counted either way."""


@dataclass(frozen=True)
class Span:
    """Offsets [start, end) of one partition; end None: to the partition's end, as it is now."""

    topic: str
    partition: int
    start: int
    end: int | None = None


@dataclass
class ReadBack:
    """What a read returned: the decoded events, and how many records it fetched."""

    events: list[Event] = field(default_factory=list)
    records: int = 0  # every record fetched, decoded or not
    seconds: float = 0.0

    def add(self, other: ReadBack) -> None:
        self.events += other.events
        self.records += other.records
        self.seconds += other.seconds


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a big read and its judgement.

    Why: a read keeps ~10 new containers per event alive (Event, value dict, headers, lists),
    and each full collection walks every live one again — measured, it doubled the checker's
    CPU. Events hold no reference cycles, so reference counting still frees them all.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def reader(conn: Connection) -> Consumer:
    """A group-less read_committed consumer for spans (assign(), never commits)."""
    return clients.consumer(conn, "kafkalab-observe", **FETCH)


def spans(
    consumer: Consumer,
    topics: Iterable[str],
    from_ms: int | None = None,
    until_ms: int | None = None,
    lead: int = 0,
) -> list[Span]:
    """Each partition of `topics` from the first record stamped at or after `from_ms` (None:
    its first record) to the first stamped at or after `until_ms` (None: its end); with
    `lead`, that many records before the start too (the last ones before the window).

    Timestamps are the producers' CreateTime; offsets_for_times gives the earliest offset whose
    timestamp is ≥ the moment, so every record before a span's start is stamped earlier.
    """
    metadata = consumer.list_topics(timeout=META_TIMEOUT)
    out: list[Span] = []
    for topic in topics:
        if topic not in metadata.topics:
            continue
        for partition in sorted(metadata.topics[topic].partitions):
            tp = TopicPartition(topic, partition)
            low, high = watermarks(consumer, tp)
            start = low if from_ms is None else _offset_at(consumer, tp, from_ms, low, high)
            start = max(low, start - lead)
            end = None if until_ms is None else _offset_at(consumer, tp, until_ms, low, high)
            if start < high and (end is None or start < end):
                out.append(Span(topic, partition, start, end))
    return out


def watermarks(consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
    """(low, high) of a partition, asked again while its leader is not known yet (a topic
    created a moment ago, a leader election): a checker must not guess an offset."""
    for attempt in range(RETRIES):
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=META_TIMEOUT
            )
            return int(low), int(high)
        except KafkaException as exc:
            if attempt == RETRIES - 1:
                raise ReadIncomplete(f"{tp.topic}[{tp.partition}]: {exc.args[0]}") from exc
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def _offset_at(consumer: Consumer, tp: TopicPartition, at_ms: int, low: int, high: int) -> int:
    """The first offset stamped at or after `at_ms` (high: none is). An error is asked again,
    never read as "none": that would silently skip the partition's window."""
    if high <= low:
        return high
    for attempt in range(RETRIES):
        [found] = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, at_ms)], timeout=META_TIMEOUT
        )
        if found.error is None:
            return high if found.offset < 0 else max(low, found.offset)
        time.sleep(0.25 * (attempt + 1))
    raise ReadIncomplete(f"{tp.topic}[{tp.partition}]: no offset by time ({found.error})")


def read(
    consumer: Consumer,
    decoder: FastDecoder,
    wanted: list[Span],
    keep: Keep | None = None,
    timeout: float = 60.0,
    strict: bool = True,
) -> ReadBack:
    """Every record of `wanted`, decoded when `keep` says so (all, without it)."""
    started = time.monotonic()
    result = ReadBack()
    if not wanted:
        return result
    by_tp = {(s.topic, s.partition): s for s in wanted}
    if len(by_tp) != len(wanted):
        raise ValueError("one span per partition and read")
    open_ends: dict[tuple[str, int], int | None] = {}
    for s in wanted:
        if s.end is None:
            _, high = watermarks(consumer, TopicPartition(s.topic, s.partition))
            open_ends[(s.topic, s.partition)] = high
        else:
            open_ends[(s.topic, s.partition)] = s.end
    ends = {k: e for k, e in open_ends.items() if e is not None and e > by_tp[k].start}
    consumer.assign([TopicPartition(s.topic, s.partition, s.start) for s in wanted])
    deadline = time.monotonic() + timeout
    try:
        while ends and time.monotonic() < deadline:
            done: list[tuple[str, int]] = []
            records, events = 0, result.events
            for msg in consumer.consume(BATCH, timeout=0.2):
                if msg.error():
                    continue
                where = (msg.topic(), msg.partition())
                end = ends.get(where)  # type: ignore[arg-type]
                offset = msg.offset()
                if end is None or offset is None or offset >= end:
                    continue  # past a fixed end, or a partition already finished
                records += 1
                if offset + 1 >= end:
                    done.append(where)  # type: ignore[arg-type]
                if keep is not None and not keep(where[0] or "", msg.key()):
                    continue
                try:
                    events.append(decoder.decode(msg))
                except UndecodableEvent:
                    continue  # poison is the DLT's business, not the checker's
            result.records += records
            # Transaction markers (and aborted records, skipped by read_committed) can sit at
            # the end: the position tells when a partition has nothing left before its end.
            for tp in consumer.position([TopicPartition(t, p) for t, p in ends]):
                if tp.offset >= ends.get((tp.topic, tp.partition), 0):
                    done.append((tp.topic, tp.partition))
            finished = [w for w in dict.fromkeys(done) if w in ends]
            for where in finished:
                del ends[where]
            if finished:
                consumer.pause([TopicPartition(t, p) for t, p in finished])
    finally:
        # A paused partition stays paused in librdkafka when assigned again: resume first,
        # so the next read on this consumer (the look-back) fetches it.
        consumer.resume([TopicPartition(s.topic, s.partition) for s in wanted])
        consumer.unassign()
    result.seconds = time.monotonic() - started
    if strict and ends:
        stuck = ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(ends)[:5])
        raise ReadIncomplete(f"could not read {stuck} to the end within {timeout:g} s")
    return result
