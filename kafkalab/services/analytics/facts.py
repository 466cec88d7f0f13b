"""How analytics re-keys its facts to one shop-wide key: a second's facts in one record.

Windows are per message key, and the inputs are keyed by order, SKU or user, so every fact has
to meet the others under one key ("all") before a shop-wide window can count it. quixstreams'
`group_by` does that through a repartition topic, one record per fact: ~11 records per order
(an order's two facts, its payment, two stock levels, six notification events), a third of
everything the shop wrote.

`FactBatcher` re-keys the same facts in batches instead. It is a quixstreams sink: every fact
of the input streams is `add`ed, and at each checkpoint (`flush()`, called before the input
offsets are committed) the facts gathered since the last one are written as one record — a
JSON list, each fact with its stream and its own event time — keyed "all" to a one-partition
topic, and the producer waits for the broker's acknowledgement. The app reads that topic back,
`expand`s each batch into its facts and sets each one's timestamp to the event time it carries
(`set_timestamp`), so the windows see exactly the facts, times and keys `group_by` would have
given them, for a record or two a second instead of one per fact. Because that topic has one
partition, a further `group_by` on it (per notification channel) needs no repartition topic:
quixstreams re-keys a one-partition stream in place.

Guarantees, as with `group_by`: at-least-once. A checkpoint that cannot write its batch
raises, so the input offsets are not committed and the facts are read again.

Upgrading: an analytics group that ran the earlier pipeline (`group_by` through a repartition
topic) has committed input offsets but no facts topic, and its running totals live in stores
the new pipeline does not read. Started as is, it would count from zero at those offsets, and
the ledger would miss every earlier order. `rewind_for_new_pipeline` commits each input's first
offset for the group instead, so the first run recounts the whole history once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from confluent_kafka import Producer, TopicPartition
from quixstreams.models import HeadersTuples
from quixstreams.sinks import BaseSink

from kafkalab import clients
from kafkalab.connection import Connection

KEY = "all"
"""The one key of every batch (and so of every fact read back): windows over the whole shop."""

MAX_FACTS = 2_000
"""Facts per record at most: a busy second is split so a record stays far below the broker's
1 MB `message.max.bytes` (a fact is ~100 bytes of JSON)."""

ORDERS = "orders"
PAYMENTS = "payments"
STOCK = "stock"
DELIVERY = "delivery"
STREAMS = (ORDERS, PAYMENTS, STOCK, DELIVERY)
"""Which input a fact came from: the windows downstream are one branch per stream."""


def topic_name(consumer_group: str) -> str:
    """Where the batches go: named like quixstreams' own repartition topics (after the
    consumer group), so the same ACL prefix covers it and `kafkalab load` counts it with them."""
    return f"repartition__{consumer_group}--facts"


def tag(stream: str) -> Callable[[dict[str, Any], Any, int, Any], dict[str, Any]]:
    """A step turning a fact of `stream` into what the batcher carries: stream, event time,
    fact."""

    def tagged(fact: dict[str, Any], key: Any, timestamp: int, headers: Any) -> dict[str, Any]:
        return {"stream": stream, "ts": timestamp, "fact": fact}

    return tagged


def event_time(item: dict[str, Any], key: Any, timestamp: int, headers: Any) -> int:
    """The event time a fact carries: its input record's timestamp (for `set_timestamp`)."""
    return int(item["ts"])


class FactBatcher(BaseSink):
    """A quixstreams sink writing the facts of each checkpoint as few records keyed KEY."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        flush_timeout: float = 30.0,
        max_facts: int = MAX_FACTS,
    ) -> None:
        super().__init__(on_client_connect_success=lambda: None)
        self.producer = producer
        self.topic = topic
        self.flush_timeout = flush_timeout
        self.max_facts = max_facts
        self._pending: list[dict[str, Any]] = []
        self.facts = 0
        """Facts written since the start."""
        self.records = 0
        """Records written since the start (what `group_by` would have written: `facts`)."""

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: HeadersTuples,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        self._pending.append(value)

    def on_paused(self) -> None:
        """Another sink pushed back: quixstreams rewinds the input to the last commit, so the
        facts gathered since then will be added again."""
        self._pending.clear()

    def flush(self) -> None:
        """Write the pending facts and wait for the acknowledgements; raising here aborts the
        checkpoint, so the input offsets are not committed (at-least-once)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        failed: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        chunks = [pending[i : i + self.max_facts] for i in range(0, len(pending), self.max_facts)]
        for chunk in chunks:
            self.producer.produce(
                self.topic,
                key=KEY.encode(),
                value=json.dumps(chunk, separators=(",", ":")).encode(),
                # the batch's record time: its latest fact (each fact keeps its own inside)
                timestamp=max(int(item["ts"]) for item in chunk),
                on_delivery=delivered,
            )
        remaining = self.producer.flush(self.flush_timeout)
        if remaining or failed:
            raise RuntimeError(
                f"analytics facts not acknowledged ({remaining} in flight, "
                f"{len(failed)} failed: {failed[:1]})"
            )
        self.facts += len(pending)
        self.records += len(chunks)


def rewind_for_new_pipeline(
    conn: Connection, group: str, inputs: Collection[str], timeout: float = 10.0
) -> int:
    """Before the first run of this pipeline on a group that ran the earlier one (it has input
    offsets but no facts topic yet), commit every input partition's first offset for the group,
    so everything is counted again from the start. Returns how many partitions were rewound.

    Committed through a consumer of the group that never subscribes (as `observe.committed`
    reads them): the service's own ACLs allow that in secure mode, where deleting the group
    would need DELETE on it. The group must be empty, as it is while its one replica starts.
    """
    consumer = clients.consumer(conn, group, **{"enable.auto.commit": False})
    try:
        existing = consumer.list_topics(timeout=timeout).topics
        if topic_name(group) in existing:
            return 0
        partitions = [
            TopicPartition(name, p)
            for name in sorted(set(inputs) & set(existing))
            for p in sorted(existing[name].partitions)
        ]
        if not partitions:
            return 0
        done = [
            tp
            for tp in consumer.committed(partitions, timeout=timeout)
            if tp.error is None and tp.offset >= 0
        ]
        if not done:
            return 0  # a new group: it reads from the earliest offset anyway
        rewound = [
            TopicPartition(tp.topic, tp.partition, consumer.get_watermark_offsets(tp, timeout)[0])
            for tp in partitions
        ]
        consumer.commit(offsets=rewound, asynchronous=False)
        return len(rewound)
    finally:
        consumer.close()
