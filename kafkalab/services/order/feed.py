"""Each order replica's own reader, outside the consumer group: all of `order-events` from the
beginning (to rebuild and then follow the order view) and all of `inventory-replies` from its
current end (the answers to this replica's stock checks) — or, with `stock_check = "table"`,
all of the compacted `stock` topic from the beginning instead (the replica's StockView).

Why not the group: the group spreads partitions over replicas, but every replica must see
every order (GET can land on any of them) and every reply (any replica may have asked).
Why one table for both topics: one thread and one connection instead of two, on a 2-core
machine. The end of the reply topic is looked up and assigned explicitly (not OFFSET_END): that
offset is fixed before the first request is sent, so no reply can slip in before the reader.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from confluent_kafka import KafkaException, TopicPartition

from kafkalab.connection import Connection
from kafkalab.events.serde import Event, now_ms
from kafkalab.events.topics import INVENTORY_REPLIES, ORDER_EVENTS, STOCK
from kafkalab.services.tables import TopicTable

CLOCK_MARGIN_MS = 1000

HighWatermarks = Callable[[list[TopicPartition]], list[TopicPartition]]
"""Partitions → the same partitions with their end offsets now."""


class ReplicaFeed:
    """Calls `on_event` (on the feed's own thread) for every decodable record of both topics."""

    def __init__(
        self,
        conn: Connection,
        on_event: Callable[[Event], None],
        name: str,
        stock_table: bool = False,
    ) -> None:
        self.stock_table = stock_table
        self.table = TopicTable(
            conn,
            [ORDER_EVENTS, STOCK if stock_table else INVENTORY_REPLIES],
            on_event,
            name=f"{name}-feed",
            group_id=f"kafkalab-order-feed-{uuid.uuid4().hex[:12]}",  # never joined: assign() only
            client_id=name,
        )
        self._targets: list[TopicPartition] | None = None
        self.started_at_ms = 0

    def start(self) -> None:
        """Fix the ends to rebuild to and start reading. Raises KafkalabError when a topic is
        missing. `wait_caught_up` then tells when every record that was on `order-events` at
        this moment has been handed to `on_event`."""
        self.started_at_ms = now_ms()
        targets = self.table.ends(ORDER_EVENTS)
        if self.stock_table:  # read from the beginning, and to its end before serving
            targets += self.table.ends(STOCK)
            self.table.start()
        else:
            self.table.start(offsets=self.table.ends(INVENTORY_REPLIES))
        self._targets = targets

    def wait_caught_up(self, timeout: float) -> bool:
        """True once the view holds everything `order-events` (and `stock`, for a stock table)
        held at `start()`; False if `timeout` seconds passed first."""
        return self._targets is not None and self.table.sync(self._targets, timeout)

    @property
    def caught_up(self) -> bool:
        return self.wait_caught_up(0)

    def read_to(self, high_watermarks: HighWatermarks, timeout: float) -> bool:
        """Wait until the view holds everything on `order-events` now (the partitions' end
        offsets as `high_watermarks` gives them); False if `timeout` seconds passed first or
        the ends could not be had (a KafkaException: a cluster in trouble, and the caller
        retries as before)."""
        return self._read_topic_to(ORDER_EVENTS, high_watermarks, timeout)

    def read_stock_to(self, high_watermarks: HighWatermarks, timeout: float) -> bool:
        """The same for `stock`, so the stock view holds every level written so far; False
        without a stock table."""
        return self._read_topic_to(STOCK, high_watermarks, timeout)

    def _read_topic_to(self, topic: str, high_watermarks: HighWatermarks, timeout: float) -> bool:
        partitions = [tp for tp in self._targets or [] if tp.topic == topic]
        if not partitions:
            return False
        try:
            ends = high_watermarks(partitions)
        except KafkaException:
            return False
        return self.table.sync(ends, timeout)

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
        self.table.stop()
