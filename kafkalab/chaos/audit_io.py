"""The audit's clients: a numbering writer, a static group member, and the read-back.

They are built with `kafkalab.clients`, like every kafkalab client, and touch only the
audit's own topics, so a fault's figures are never mixed with the shop's traffic.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message, TopicPartition

from kafkalab import clients
from kafkalab.chaos import ledger
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError

ACKS_SETTINGS: dict[str, dict[str, Any]] = {
    # Idempotent: acks=all, retries that never duplicate or reorder. The delivery timeout
    # outlasts a fenced broker's 9 s session and the election after it.
    "all": {"enable.idempotence": True, "acks": "all", "message.timeout.ms": 120_000},
    # The leader alone answers: no wait for followers, and retries that may duplicate.
    "1": {"enable.idempotence": False, "acks": "1", "message.timeout.ms": 120_000},
}
FLUSH_TIMEOUT = 150.0
"""Every message gets its delivery report within message.timeout.ms: flush waits that long."""


class SequenceWriter:
    """Writes key-0#0, key-1#0, …, key-0#1, … at `rate` records/s with one acks setting, and
    keeps what each delivery report said. Runs on its own thread until `stop()`."""

    def __init__(self, conn: Connection, topic: str, acks: str, keys: int, rate: float) -> None:
        self.topic, self.acks, self.keys, self.rate = topic, acks, keys, rate
        self.producer = clients.producer(conn, **{**ACKS_SETTINGS[acks], "log_level": 0})
        self.sent = 0
        self.failed = 0
        self.acked: list[ledger.Write] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"audit-acks-{acks}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        write = ledger.decode(msg.value())
        if err is not None or write is None:
            self.failed += 1
        else:
            self.acked.append(write)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._halt.is_set():
            key, seq = f"key-{self.sent % self.keys}", self.sent // self.keys
            try:
                self.producer.produce(
                    self.topic, key=key, value=ledger.encode(key, seq), on_delivery=self._delivered
                )
            except BufferError:  # the local queue is full while no leader answers: wait
                self.producer.poll(0.1)
                continue
            self.sent += 1
            self.producer.poll(0)
            due += 1 / self.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def stop(self) -> None:
        """Stop writing and wait for every delivery report (the producer's own timeout bounds it)."""
        self._halt.set()
        self._thread.join()
        self.producer.flush(FLUSH_TIMEOUT)


class StaticMember:
    """A consumer with static membership (`group.instance.id`, as the services run) reading
    the audit topic, counting every rebalance after its first assignment."""

    def __init__(self, conn: Connection, topic: str, group: str) -> None:
        self.group = group
        self.fatal: str | None = None
        self.consumer = clients.consumer(
            conn,
            group,
            **clients.service_membership(f"{group}-0"),
            log_level=0,
            error_cb=self._error,
        )
        self.assignments = 0
        self.lost = 0
        self.consumed = 0
        self._halt = threading.Event()
        self.consumer.subscribe([topic], on_assign=self._assigned, on_lost=self._lost)
        self._thread = threading.Thread(target=self._run, name="audit-member", daemon=True)
        self._thread.start()

    def _assigned(self, _consumer: Any, _partitions: list[TopicPartition]) -> None:
        self.assignments += 1

    def _lost(self, _consumer: Any, _partitions: list[TopicPartition]) -> None:
        self.lost += 1

    def _error(self, err: KafkaError) -> None:
        if (err.fatal() or err.code() == KafkaError._FATAL) and self.fatal is None:
            self.fatal = err.str()

    def _run(self) -> None:
        while not self._halt.is_set() and self.fatal is None:
            messages = self.consumer.consume(500, timeout=0.2)
            for msg in messages:
                err = msg.error()
                if err is None:
                    self.consumed += 1
                else:
                    self._error(err)

    @property
    def rebalances(self) -> int:
        """Rebalances after the first assignment: with static membership a broker restart
        (the group coordinator moving) should cause none."""
        return max(self.assignments - 1, 0) + self.lost

    def wait_assigned(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.assignments and time.monotonic() < deadline:
            time.sleep(0.1)
        return bool(self.assignments)

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()
        if self.fatal is None:
            clients.leave_group(self.consumer)
        else:
            self.consumer.close()


def read_back(conn: Connection, topic: str, timeout: float = 60.0) -> list[ledger.Write]:
    """Every record of `topic`, read_committed, each partition from its start to its end."""
    consumer = clients.consumer(
        conn, f"{topic}-reader", log_level=0, **{"enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        ends: dict[int, int] = {}
        for pid in metadata.topics[topic].partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
            if high > 0:
                ends[pid] = high
        consumer.assign([TopicPartition(topic, pid, OFFSET_BEGINNING) for pid in ends])
        by_partition: dict[int, list[ledger.Write]] = {pid: [] for pid in ends}
        deadline = time.monotonic() + timeout
        pending = set(ends)
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error():
                    continue
                write = ledger.decode(msg.value())
                if write is not None:
                    by_partition[msg.partition()].append(write)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    pending.discard(msg.partition())
        if pending:
            raise KafkalabError(
                f"could not read {topic} to its end within {timeout:.0f} s "
                f"(partitions {sorted(pending)} stopped short)",
                hint="`kafkalab cluster status`: is every broker up?",
            )
        return [w for pid in sorted(by_partition) for w in by_partition[pid]]
    finally:
        consumer.close()
