"""Topics read outside any consumer group: a live table tailed by a thread (`TopicTable`) and
a one-off read of topics to their end (`read_to_end`).

Why no group: a table must see *every* partition in *every* replica (a group would split the
partitions between replicas), and it never commits, because each start rebuilds it from the log
— Kafka Streams' GlobalKTable, small. librdkafka still wants a group.id, but with assign() and
no commits the consumer never joins that group: the id only labels it in broker logs.

Both readers are read_committed (the `clients.consumer` default), so "the end" of a partition is
its last stable offset: a transaction still open, or one a crashed writer left, is never read as
history. Both ask for librdkafka's partition-EOF, so the end is known exactly instead of being
guessed with a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent

log = logging.getLogger("kafkalab.service.table")

OnEvent = Callable[[Event], None]
OnTombstone = Callable[[str], None]
Wanted = Callable[[Message], bool]
Where = tuple[str, int]  # (topic, partition)

METADATA_TIMEOUT = 10.0


class TopicTable:
    """Tails `topics` in a daemon thread, calling `on_event` for each decoded record (and
    `on_tombstone(key)` for a null value, the compacted-topic delete).

    Every partition is read from its first offset, except those `start(offsets)` places
    elsewhere. Two ways to know how far the table got:

    - `loaded` is set once every partition reached the end it had when it was first read
      (partition-EOF), so a reader can tell "unknown key" from "not read yet";
    - `sync(ends, timeout)` is a read-your-writes barrier: it waits until the offsets the
      caller just looked up (high watermarks, e.g. from `ends()`) have been read and handed to
      the callbacks, so a late record is awaited instead of guessed with a sleep.

    Callbacks run on the table's thread: they must be quick and thread-safe. A callback that
    raises is logged and its record skipped — one bad record must not stop the table. Records
    that are not a registered event are skipped too: the writer's own DLT is where poison goes.
    """

    def __init__(
        self,
        conn: Connection,
        topics: str | Sequence[str],
        on_event: OnEvent,
        on_tombstone: OnTombstone | None = None,
        wanted: Wanted = lambda msg: True,
        name: str = "table",
        group_id: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.conn = conn
        self.topics = _topic_list(topics)
        self.on_event = on_event
        self.on_tombstone = on_tombstone
        self.wanted = wanted  # cheap pre-filter on the raw record (e.g. by header) before decoding
        self.name = name
        self.group_id = group_id or f"{name}-reader"
        self.client_id = client_id
        self.loaded = threading.Event()
        self.stopping = threading.Event()
        self.records = 0
        self._reader: _Reader | None = None
        self._offsets: dict[Where, int] = {}
        self._positions: dict[Where, int] = {}
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def ends(self, topic: str) -> list[TopicPartition]:
        """`topic`'s partitions, each with its high watermark as of now (what has been written).

        Raises KafkalabError when the topic does not exist. Call it before `start()`: the
        offsets it returns are fixed at once, so nothing written after it returns is missed by a
        table started at them.
        """
        return self._client().ends(topic)

    def start(self, offsets: Iterable[TopicPartition] = ()) -> None:
        """Start reading in the background and return at once.

        Partitions listed in `offsets` start at the offset given there (e.g. from `ends()`, to
        read only what comes next); every other partition of the table's topics starts at its
        first offset, once the thread has seen the topic exist (it waits for that).
        """
        self._offsets = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self._client()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        elif self._reader is not None and not self._thread.ident:  # never started
            self._reader.close()

    def wait_loaded(self, timeout: float) -> bool:
        return self.loaded.wait(timeout)

    def sync(self, ends: Iterable[TopicPartition], timeout: float) -> bool:
        """Wait until every partition in `ends` was read up to its offset there. True when it
        was; False if `timeout` seconds passed first (`timeout=0` only asks)."""
        targets = [((tp.topic, tp.partition), tp.offset) for tp in ends]
        deadline = time.monotonic() + timeout
        with self._progress:
            while not all(self._positions.get(where, 0) >= end for where, end in targets):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(left)
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _client(self) -> _Reader:
        if self._reader is None:
            self._reader = _Reader(self.conn, self.group_id, self.client_id)
        return self._reader

    def _run(self) -> None:
        reader = self._client()
        try:
            serde = EventSerde(self.conn)
            assignment = self._assignment(reader)
            if assignment is None:
                return
            reader.assign(assignment)
            while not self.stopping.is_set():
                reached = reader.poll(lambda msg: self._apply(serde, msg), 200, 0.2)
                if reached:
                    self._advance(reached)
                if reader.at_end and not self.loaded.is_set():
                    log.info(
                        "table loaded",
                        extra={"fields": {"table": self.name, "records": self.records}},
                    )
                    self.loaded.set()
        except Exception:
            log.exception("table %s stopped on an error", self.name)
            raise
        finally:
            reader.close()

    def _assignment(self, reader: _Reader) -> list[TopicPartition] | None:
        """Every partition of every topic at its start offset, waiting for the topics to exist
        (None if asked to stop first)."""
        assignment: list[TopicPartition] = []
        for topic in self.topics:
            partitions = self._partitions(reader, topic)
            if partitions is None:
                return None
            assignment += [
                TopicPartition(topic, p, self._offsets.get((topic, p), OFFSET_BEGINNING))
                for p in partitions
            ]
        return assignment

    def _partitions(self, reader: _Reader, topic: str) -> list[int] | None:
        while not self.stopping.is_set():
            try:
                partitions = reader.partitions(topic)
            except KafkaException as exc:  # broker not reachable yet: keep trying
                log.warning("table %s: no metadata for %s yet: %s", self.name, topic, exc)
            else:
                if partitions:
                    return partitions
            self.stopping.wait(0.5)
        return None

    def _apply(self, serde: EventSerde, msg: Message) -> None:
        key = msg.key()
        key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
        try:
            if msg.value() is None:
                if self.on_tombstone is not None and key_text is not None:
                    self.on_tombstone(key_text)
                return
            if not self.wanted(msg):
                return
            event = _decode(serde, msg, f"table {self.name}")
            if event is None:
                return
            self.records += 1
            self.on_event(event)
        except Exception:  # noqa: BLE001 - one bad record must not stop the table
            log.exception(
                "table %s: callback failed on %s[%d]@%d",
                self.name,
                msg.topic(),
                msg.partition(),
                msg.offset(),
            )

    def _advance(self, reached: dict[Where, int]) -> None:
        with self._progress:
            for where, position in reached.items():
                if position > self._positions.get(where, 0):
                    self._positions[where] = position
            self._progress.notify_all()


def read_to_end(
    conn: Connection,
    serde: EventSerde,
    topics: str | Sequence[str],
    timeout: float = 60.0,
    group_id: str = "kafkalab-replay",
) -> list[Event]:
    """Every decodable event of `topics` from their first offsets to their ends, once, in
    offset order per partition (how a service rebuilds its memory at start).

    Raises KafkalabError when a topic does not exist or its end is not reached in `timeout`
    seconds. Undecodable records and tombstones are skipped (the former logged): they carry no
    state. `group_id` only labels the consumer.
    """
    names = _topic_list(topics)
    reader = _Reader(conn, group_id)
    try:
        assignment: list[TopicPartition] = []
        for topic in names:
            partitions = reader.partitions(topic)
            if not partitions:
                raise _missing(topic)
            assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
        reader.assign(assignment)
        events: list[Event] = []

        def collect(msg: Message) -> None:
            if msg.value() is not None:
                event = _decode(serde, msg, "replay")
                if event is not None:
                    events.append(event)

        deadline = time.monotonic() + timeout
        while not reader.at_end:
            if time.monotonic() > deadline:
                raise KafkalabError(
                    f"could not read {', '.join(names)} to the end in {timeout:.0f} s",
                    hint="check that the cluster is up (`kafkalab cluster status`)",
                )
            reader.poll(collect, 500, 0.5)
        return events
    finally:
        reader.close()


class _Reader:
    """One assign()-only consumer with partition-EOF: the loop both readers share.

    It tracks which assigned partitions have not reached their end yet (`at_end`) and reports,
    per batch, how far each partition has been read.
    """

    def __init__(self, conn: Connection, group_id: str, client_id: str | None = None) -> None:
        config: dict[str, object] = {"enable.auto.commit": False, "enable.partition.eof": True}
        if client_id is not None:
            config["client.id"] = client_id
        self.consumer: Consumer = clients.consumer(conn, group_id, **config)
        self._pending: set[Where] = set()
        self._closed = False

    def partitions(self, topic: str) -> list[int] | None:
        """The topic's partitions, or None if it does not exist (yet)."""
        metadata = self.consumer.list_topics(topic, timeout=METADATA_TIMEOUT)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        return sorted(found.partitions)

    def ends(self, topic: str) -> list[TopicPartition]:
        partitions = self.partitions(topic)
        if not partitions:
            raise _missing(topic)
        return [TopicPartition(topic, p, self._high_watermark(topic, p)) for p in partitions]

    def assign(self, assignment: list[TopicPartition]) -> None:
        self.consumer.assign(assignment)
        self._pending = {(tp.topic, tp.partition) for tp in assignment}

    @property
    def at_end(self) -> bool:
        """Has every assigned partition reached the end it had when it was first read?"""
        return not self._pending

    def poll(
        self, handle: Callable[[Message], None], batch: int, timeout: float
    ) -> dict[Where, int]:
        """Hand one batch of records to `handle`; returns, per partition read, the position
        reached (the next offset to read, after `handle` ran) — the partition's end on EOF, so
        transaction markers at the end of a partition count as read."""
        reached: dict[Where, int] = {}
        for msg in clients.consume_ready(self.consumer, batch, timeout):
            where = (msg.topic(), msg.partition())
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._pending.discard(where)
                    reached[where] = max(reached.get(where, 0), msg.offset())
                else:
                    log.warning("consumer error on %s: %s", where[0], error)
                continue
            handle(msg)
            reached[where] = max(reached.get(where, 0), msg.offset() + 1)
        return reached

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.consumer.close()

    def _high_watermark(self, topic: str, partition: int) -> int:
        """Retried while the partition has no leader yet (just after the topic was created, or
        during a broker restart)."""
        deadline = time.monotonic() + METADATA_TIMEOUT
        while True:
            try:
                _, high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=METADATA_TIMEOUT
                )
                return int(high)
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _decode(serde: EventSerde, msg: Message, reader: str) -> Event | None:
    try:
        return serde.decode(msg)
    except UndecodableEvent as exc:
        log.warning(
            "%s: skipped an undecodable record in %s: %s",
            reader,
            msg.topic(),
            exc,
            extra={"fields": {"partition": msg.partition(), "offset": msg.offset()}},
        )
        return None


def _missing(topic: str) -> KafkalabError:
    return KafkalabError(
        f"topic {topic} does not exist",
        hint="create the platform's topics first: `kafkalab up` applies the catalogue",
    )


def _topic_list(topics: str | Sequence[str]) -> list[str]:
    """A single topic name or several (a bare str is one name, not a sequence of letters)."""
    return [topics] if isinstance(topics, str) else list(topics)
