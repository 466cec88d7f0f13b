"""End-to-end order latency and throughput, live: OrderCreated → the order's terminal status.

The same measure `kafkalab load` reports (load.outcome: HDR histogram, terminal = CONFIRMED,
CANCELLED or REJECTED), taken from order-events as they arrive instead of from one run's
orders: a consumer assigned (no group) from `window` seconds ago, read incrementally.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass

from confluent_kafka import OFFSET_END, TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events import topics as t
from kafkalab.events.serde import EventSerde, UndecodableEvent
from kafkalab.load.outcome import TERMINAL, LatencyRecorder
from kafkalab.load.report import Latency

WINDOW_S = 60.0


@dataclass
class Flow:
    """Orders finished in the last `window_s` seconds: how many per second, and how long each
    took from OrderCreated to its terminal status (ms percentiles)."""

    window_s: float
    finished: int
    latency: Latency

    @property
    def per_s(self) -> float:
        return self.finished / self.window_s


class FlowReader:
    def __init__(self, conn: Connection, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._serde = EventSerde(conn)
        self._consumer = clients.consumer(conn, "kafkalab-console", **{"enable.auto.commit": False})
        self._created: dict[str, int] = {}
        self._finished: deque[tuple[int, int]] = deque()  # (terminal ms, latency ms)
        self._assigned = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._consumer.close()

    def sample(self) -> Flow:
        self._assign()
        while True:
            batch = self._consumer.consume(1000, timeout=0.1)
            if not batch:
                break
            for msg in batch:
                if not msg.error():
                    self._take(msg)
        now_ms = int(time.time() * 1000)
        horizon = now_ms - int(self.window_s * 1000)
        # partitions interleave, so the deque is only roughly in time order: filter, not pop
        self._finished = deque(f for f in self._finished if f[0] >= horizon)
        for order_id, created in list(self._created.items()):
            if created < horizon - 600_000:  # never finished in ten minutes: stop waiting
                del self._created[order_id]
        recorder = LatencyRecorder()
        for _, millis in self._finished:
            recorder.record(millis)
        return Flow(self.window_s, len(self._finished), recorder.summary())

    def _assign(self) -> None:
        if self._assigned:
            return
        metadata = self._consumer.list_topics(t.ORDER_EVENTS, timeout=5)
        partitions = (
            metadata.topics[t.ORDER_EVENTS].partitions if t.ORDER_EVENTS in metadata.topics else {}
        )
        since = int(time.time() * 1000 - self.window_s * 1000)
        wanted = [TopicPartition(t.ORDER_EVENTS, p, since) for p in partitions]
        starts = self._consumer.offsets_for_times(wanted, timeout=5) if wanted else []
        self._consumer.assign(
            [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
                for tp in starts
            ]
        )
        self._assigned = bool(partitions)

    def _take(self, msg: object) -> None:
        try:
            event = self._serde.decode(msg)  # type: ignore[arg-type]
        except UndecodableEvent:
            return
        order_id = str(event.value.get("order_id", ""))
        if event.type == "OrderCreated":
            self._created[order_id] = event.timestamp_ms
        elif event.type == "OrderStatusChanged" and event.value.get("to_status") in TERMINAL:
            created = self._created.pop(order_id, None)
            if created is not None:
                self._finished.append((event.timestamp_ms, max(event.timestamp_ms - created, 0)))
