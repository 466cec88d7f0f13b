"""A topic read into memory from its first offset, outside any consumer group.

Why not a consumer group: a table must see *every* partition in *every* replica (a group would
split the partitions between replicas), and it never commits, because each start rebuilds the
table from the log. That is the "KTable" idea in forty lines: the compacted `users` topic
becomes a dict of profiles; `notifications` becomes the set of already-delivered ids.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from kafkalab import clients
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service.table")

OnEvent = Callable[[Event], None]
OnTombstone = Callable[[str], None]
Wanted = Callable[[Message], bool]


class TopicTable:
    """Tails `topic` from the beginning in a daemon thread, calling `on_event` for each decoded
    record (and `on_tombstone(key)` for a null value, the compacted-topic delete).

    `loaded` is set once every partition reached the end it had when the table started
    (librdkafka's partition-EOF), so a reader can tell "unknown key" from "not read yet".
    Callbacks run on the table's thread: they must be quick and thread-safe.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        on_event: OnEvent,
        on_tombstone: OnTombstone | None = None,
        wanted: Wanted = lambda msg: True,
        name: str = "table",
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.on_event = on_event
        self.on_tombstone = on_tombstone
        self.wanted = wanted  # cheap pre-filter on the raw record (e.g. by header) before decoding
        self.name = name
        self.loaded = threading.Event()
        self.stopping = threading.Event()
        self.records = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_loaded(self, timeout: float) -> bool:
        return self.loaded.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        serde = EventSerde(self.settings)
        # group.id is mandatory for a librdkafka consumer, but with assign() and no commits
        # this consumer never joins the group: the id only labels it in broker logs.
        consumer = clients.consumer(
            self.settings,
            f"{self.name}-reader",
            **{"enable.auto.commit": False, "enable.partition.eof": True},
        )
        try:
            partitions = self._partitions(consumer)
            if partitions is None:
                return
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            pending = set(partitions)
            while not self.stopping.is_set():
                for msg in consumer.consume(200, timeout=0.2):
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(msg.partition())
                        else:
                            log.warning("table %s: consumer error: %s", self.topic, error)
                        continue
                    self._apply(serde, msg)
                if not pending and not self.loaded.is_set():
                    log.info(
                        "table loaded",
                        extra={"fields": {"topic": self.topic, "records": self.records}},
                    )
                    self.loaded.set()
        except Exception:
            log.exception("table %s stopped on an error", self.topic)
            raise
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int] | None:
        """The topic's partitions, waiting for the topic to exist (None if asked to stop)."""
        while not self.stopping.is_set():
            try:
                metadata = consumer.list_topics(self.topic, timeout=10)
            except KafkaException as exc:  # broker not reachable yet: keep trying
                log.warning("table %s: no metadata yet: %s", self.topic, exc)
            else:
                topic = metadata.topics.get(self.topic)
                if topic is not None and topic.error is None and topic.partitions:
                    return sorted(topic.partitions)
            self.stopping.wait(0.5)
        return None

    def _apply(self, serde: EventSerde, msg: Message) -> None:
        key = msg.key()
        key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
        if msg.value() is None:
            if self.on_tombstone is not None and key_text is not None:
                self.on_tombstone(key_text)
            return
        if not self.wanted(msg):
            return
        try:
            event = serde.decode(msg)
        except UndecodableEvent as exc:
            # A table skips what it cannot read: the writer's own DLT is where poison belongs.
            log.warning(
                "table %s: skipped an undecodable record: %s",
                self.topic,
                exc,
                extra={"fields": {"partition": msg.partition(), "offset": msg.offset()}},
            )
            return
        self.records += 1
        self.on_event(event)
