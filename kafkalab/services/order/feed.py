"""Each order replica's own consumer, outside the consumer group: all of `order-events` from
the beginning (to rebuild and then follow the order view) and all of `inventory-replies` from
its current end (the answers to this replica's stock checks).

Why not the group: the group spreads partitions over replicas, but every replica must see
every order (GET can land on any of them) and every reply (any replica may have asked).
Why one consumer for both: one thread and one connection instead of two, on a 2-core machine.
The end of the reply topic is looked up and assigned explicitly (not OFFSET_END): that offset
is fixed before the first request is sent, so no reply can slip in before the consumer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from kafkalab import clients
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent, now_ms
from kafkalab.events.topics import INVENTORY_REPLIES, ORDER_EVENTS
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.order.feed")

METADATA_TIMEOUT = 10.0
CLOCK_MARGIN_MS = 1000


class ReplicaFeed:
    """Calls `on_event` (on the feed's own thread) for every decodable record of both topics."""

    def __init__(self, settings: Settings, on_event: Callable[[Event], None], name: str) -> None:
        self.serde = EventSerde(settings)
        self.on_event = on_event
        self.consumer = clients.consumer(
            settings,
            f"kafkalab-order-feed-{uuid.uuid4().hex[:12]}",  # never joined: assign() only
            **{"enable.auto.commit": False, "client.id": name},
        )
        self.caught_up = threading.Event()
        self.stopping = threading.Event()
        self._targets: dict[int, int] = {}
        self.started_at_ms = 0
        self._thread = threading.Thread(target=self._run, name=f"{name}-feed", daemon=True)

    def start(self) -> None:
        """Assign the partitions and start reading; `caught_up` is set once every record that
        was on `order-events` at this moment has been handed to `on_event`."""
        self.started_at_ms = now_ms()
        order_partitions = self._partitions(ORDER_EVENTS)
        reply_partitions = self._partitions(INVENTORY_REPLIES)
        assignment = []
        for p in order_partitions:
            low, high = self._watermarks(ORDER_EVENTS, p)
            if high > low:
                self._targets[p] = high
            assignment.append(TopicPartition(ORDER_EVENTS, p, OFFSET_BEGINNING))
        for p in reply_partitions:
            _, high = self._watermarks(INVENTORY_REPLIES, p)
            assignment.append(TopicPartition(INVENTORY_REPLIES, p, high))
        self.consumer.assign(assignment)
        if not self._targets:
            self.caught_up.set()
        self._thread.start()

    def could_be_in_flight(self, caused_at_ms: int) -> bool:
        """Could an order referred to by an event written at `caused_at_ms` still be missing
        from the view only because its OrderCreated has not been read yet?

        Whatever caused that event read the OrderCreated first, so the OrderCreated was below
        the high watermark at `caused_at_ms`. If that is before this feed looked up the
        watermarks it rebuilds to, the view has it — or it never existed. (Same host clock;
        the margin absorbs millisecond rounding and broker/client timestamp differences.)
        """
        return caused_at_ms <= 0 or caused_at_ms >= self.started_at_ms - CLOCK_MARGIN_MS

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.consumer.close()

    def _run(self) -> None:
        while not self.stopping.is_set():
            for msg in self.consumer.consume(200, timeout=0.2):
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("feed consumer error: %s", error)
                    continue
                try:
                    event = self.serde.decode(msg)
                except UndecodableEvent as exc:
                    log.warning(
                        "undecodable record skipped",
                        extra={
                            "fields": {
                                "topic": msg.topic(),
                                "offset": msg.offset(),
                                "error": str(exc),
                            }
                        },
                    )
                    continue
                try:
                    self.on_event(event)
                except Exception:  # noqa: BLE001 - one bad record must not stop the view
                    log.exception("feed handler failed on %s@%s", event.topic, event.offset)
            if not self.caught_up.is_set():
                self._check_caught_up()

    def _check_caught_up(self) -> None:
        positions = self.consumer.position([TopicPartition(ORDER_EVENTS, p) for p in self._targets])
        if all(tp.offset >= self._targets[tp.partition] for tp in positions):
            log.info("order view rebuilt", extra={"fields": {"partitions": len(self._targets)}})
            self.caught_up.set()

    def _partitions(self, topic: str) -> list[int]:
        metadata = self.consumer.list_topics(topic, timeout=METADATA_TIMEOUT)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise KafkalabError(
                f"topic {topic} does not exist",
                hint="create the platform's topics first (the supervisor applies the catalogue)",
            )
        return sorted(found.partitions)

    def _watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """(low, high) of one partition, retried while the partition has no leader yet (just
        after the topics were created, or during a broker restart)."""
        deadline = time.monotonic() + METADATA_TIMEOUT
        while True:
            try:
                low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=METADATA_TIMEOUT
                )
                return int(low), int(high)
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
