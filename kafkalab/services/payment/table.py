"""Topics read outside any consumer group: the live `users` table, and a one-off read of a
topic to its end (how payment remembers at start which orders it already decided).

Why no group: a table must see every partition in every replica (a group would split them),
and it never commits, because each start rebuilds it from the log — the "KTable" idea, small.
Both readers are read_committed (the kafkalab default), so "the end" of a partition is its last
stable offset: a transaction still open, or one a crashed writer left, is never read as history.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from kafkalab import clients
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service")


class UsersTable:
    """Balances by user id from the compacted `users` topic (UserProfile), tailed by a daemon
    thread from the first offset of every partition.

    `sync(high_watermarks)` is a read-your-writes barrier: it waits until the thread has read up
    to offsets the caller just looked up, so "unknown user" can be told from "profile not read
    yet" without guessing with a sleep.
    """

    def __init__(self, settings: Settings, topic: str, group: str) -> None:
        self.settings = settings
        self.topic = topic
        self.group = group
        self.loaded = threading.Event()
        self._stopping = threading.Event()
        self._balances: dict[str, int] = {}
        self._positions: dict[int, int] = {}
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"{topic}-table", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def balance(self, user_id: str) -> int | None:
        """The user's balance in cents, or None if no profile was read (yet)."""
        return self._balances.get(user_id)

    def __len__(self) -> int:
        return len(self._balances)

    def sync(self, high_watermarks: dict[int, int], timeout: float) -> bool:
        """Wait until every partition was read up to its offset in `high_watermarks`.
        True when it was; False if `timeout` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while not all(self._positions.get(p, 0) >= hw for p, hw in high_watermarks.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(left)
        return True

    def _run(self) -> None:
        serde = EventSerde(self.settings)
        # group.id is mandatory for a librdkafka consumer; with assign() it never joins it.
        consumer = clients.consumer(
            self.settings,
            f"{self.group}-{self.topic}-table",
            **{"enable.auto.commit": False, "enable.partition.eof": True},
        )
        try:
            partitions = self._partitions(consumer)
            if partitions is None:
                return
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            pending = set(partitions)
            while not self._stopping.is_set():
                for msg in consumer.consume(200, timeout=0.2):
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(msg.partition())
                            self._advance(msg.partition(), msg.offset())
                        else:
                            log.warning("users table: consumer error: %s", error)
                        continue
                    self._apply(serde, msg)
                    self._advance(msg.partition(), msg.offset() + 1)
                if not pending and not self.loaded.is_set():
                    log.info("users table loaded", extra={"fields": {"users": len(self._balances)}})
                    self.loaded.set()
        except Exception:
            log.exception("users table stopped on an error")
            raise
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int] | None:
        while not self._stopping.is_set():
            topic = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if topic is not None and topic.error is None and topic.partitions:
                return sorted(topic.partitions)
            self._stopping.wait(0.5)
        return None

    def _apply(self, serde: EventSerde, msg: Message) -> None:
        key = msg.key()
        user_id = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
        if msg.value() is None:  # a tombstone: the user is gone
            self._balances.pop(user_id, None)
            return
        try:
            event = serde.decode(msg)
        except UndecodableEvent as exc:
            log.warning("users table: skipped an undecodable record: %s", exc)
            return
        if "balance_cents" in event.value:
            self._balances[str(event.value.get("user_id") or user_id)] = int(
                event.value["balance_cents"]
            )

    def _advance(self, partition: int, position: int) -> None:
        with self._progress:
            if position > self._positions.get(partition, 0):
                self._positions[partition] = position
                self._progress.notify_all()


def read_to_end(
    settings: Settings, serde: EventSerde, topic: str, group: str, timeout: float = 60.0
) -> list[Event]:
    """Every decodable event of `topic` from its first offset to its end, once.

    Raises KafkalabError if the topic is missing or its end is not reached within `timeout`.
    """
    consumer = clients.consumer(
        settings,
        f"{group}-{topic}-replay",
        **{"enable.auto.commit": False, "enable.partition.eof": True},
    )
    try:
        found = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise KafkalabError(
                f"topic {topic} does not exist", hint="create the topic catalogue first"
            )
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions])
        pending = set(found.partitions)
        events: list[Event] = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise KafkalabError(f"could not read {topic} to its end in {timeout:.0f} s")
            for msg in consumer.consume(500, timeout=0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                    else:
                        log.warning("replay of %s: consumer error: %s", topic, error)
                    continue
                if msg.value() is None:
                    continue
                try:
                    events.append(serde.decode(msg))
                except UndecodableEvent as exc:
                    log.warning("replay of %s: skipped an undecodable record: %s", topic, exc)
        return events
    finally:
        consumer.close()
