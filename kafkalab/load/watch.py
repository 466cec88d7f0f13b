"""Follow order-events while the load runs: when each order was created and when it ended.

The watcher is assigned every partition of order-events at the end offsets taken *before* the
first order is sent, so it sees every OrderCreated of the run. Times are the records' own
timestamps (set by the order service when it produced them), not the moment the watcher read
them: a watcher that falls behind does not make the pipeline look slower.
"""

from __future__ import annotations

import threading
from collections import Counter

from confluent_kafka import KafkaError, Message, TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.serde import HEADER_TYPE, EventSerde, UndecodableEvent
from kafkalab.events.topics import ORDER_EVENTS
from kafkalab.load.outcome import TERMINAL, Terminal

_CREATED = b"OrderCreated"
_CHANGED = b"OrderStatusChanged"


class OrderWatch:
    """A daemon thread that records OrderCreated times and the first terminal state per order."""

    def __init__(self, conn: Connection, start_offsets: dict[int, int]) -> None:
        self.conn = conn
        self.start_offsets = start_offsets
        self.created: dict[str, int] = {}
        self.terminal: dict[str, Terminal] = {}
        self.counts: Counter[str] = Counter()
        self.recalled: set[str] = set()  # CONFIRMED → CANCELLED: cancelled by the customer
        self.last_seen_ms = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="order-watch", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start reading; returns once the consumer is assigned (so no event can slip past)."""
        self._thread.start()
        self._ready.wait(timeout)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def snapshot(self) -> tuple[dict[str, int], dict[str, Terminal]]:
        with self._lock:
            return dict(self.created), dict(self.terminal)

    def pending(self, order_ids: set[str]) -> set[str]:
        """The orders of `order_ids` not terminal yet."""
        with self._lock:
            return {o for o in order_ids if o not in self.terminal}

    def recalled_ids(self) -> set[str]:
        """Orders cancelled after they were CONFIRMED (`load --cancel-paid`)."""
        with self._lock:
            return set(self.recalled)

    def status_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def _run(self) -> None:
        serde = EventSerde(self.conn)
        consumer = clients.consumer(
            self.conn,
            "kafkalab-load-watch",  # assign() only: the group is never joined, nothing committed
            **{"enable.auto.commit": False, "fetch.wait.max.ms": 50},
        )
        try:
            consumer.assign(
                [TopicPartition(ORDER_EVENTS, p, o) for p, o in self.start_offsets.items()]
            )
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            consumer.close()
            return
        self._ready.set()
        try:
            while not self._stopping.is_set():
                for msg in consumer.consume(1000, timeout=0.1):
                    if msg.error() is None:
                        self._apply(serde, msg)
                    elif msg.error().code() != KafkaError._PARTITION_EOF:
                        continue
        finally:
            consumer.close()

    def _apply(self, serde: EventSerde, msg: Message) -> None:
        kind = next((v for k, v in (msg.headers() or []) if k == HEADER_TYPE), None)
        timestamp = msg.timestamp()[1]
        if kind == _CREATED:
            key = msg.key()
            order_id = key.decode() if isinstance(key, bytes) else str(key)
            with self._lock:
                self.created.setdefault(order_id, timestamp)
                self.last_seen_ms = max(self.last_seen_ms, timestamp)
        elif kind == _CHANGED:
            try:
                value = serde.decode(msg).value
            except UndecodableEvent:
                return
            status = str(value.get("to_status"))
            if status not in TERMINAL:
                return
            order_id = str(value["order_id"])
            with self._lock:
                if value.get("from_status") == "CONFIRMED":
                    self.recalled.add(order_id)
                if order_id not in self.terminal:
                    self.terminal[order_id] = Terminal(status, timestamp)
                    self.counts[status] += 1
                self.last_seen_ms = max(self.last_seen_ms, timestamp)
