"""An acks=all probe write to given partitions of the shop's topics, that no reader ever sees.

Recovered means a partition takes writes again, so the proof is a write. The probe records go
to the very partitions the dead broker led, inside a transaction that is then aborted: every
reader of the shop's topics reads `read_committed` (librdkafka's default isolation.level, and
kafkalab's consumers ask for it), so an aborted record is skipped by the services, the
invariant checker and the lessons alike. A transactional producer writes with acks=all and
idempotence, so each delivery report says the partition's leader and enough of its ISR have
the record: the time from the fault to that report is the partition's write recovery.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message

from kafkalab import clients
from kafkalab.connection import Connection


@dataclass
class ProbeResult:
    """Seconds from `started` to each partition's acknowledgement ("topic[p]" → s), and the
    last error a partition's write saw (it may still have succeeded after a retry)."""

    acked: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class Probe:
    """Prepared before the fault (`init_transactions` needs a live coordinator), fired right
    after it, polled while recovery is watched, aborted at the end."""

    def __init__(self, conn: Connection, timeout: float) -> None:
        self.result = ProbeResult()
        self._started = 0.0
        self._pending: set[str] = set()
        self._open = False
        self._producer = clients.producer(
            conn,
            **{
                "transactional.id": f"kafkalab-chaos-probe-{uuid.uuid4().hex[:12]}",
                "message.timeout.ms": int(timeout * 1000),
                "transaction.timeout.ms": int(timeout * 1000) + 30_000,
                "linger.ms": 0,
                "log_level": 0,
            },
        )
        self._producer.init_transactions(15)

    def fire(self, partitions: list[str], started: float) -> None:
        """Write one empty record to each "topic[p]"; times count from `started` (monotonic)."""
        self._started = started
        self._pending = set(partitions)
        if not partitions:
            return
        self._producer.begin_transaction()
        self._open = True
        for name in partitions:
            topic, _, rest = name.rpartition("[")
            self._producer.produce(
                topic,
                key=b"kafkalab-chaos-probe",  # compacted topics refuse a record without a key
                value=b"",
                partition=int(rest.rstrip("]")),
                headers={"kafkalab-chaos-probe": b"1"},
                on_delivery=lambda err, msg, name=name: self._delivered(name, err, msg),
            )

    def _delivered(self, name: str, error: KafkaError | None, _msg: Message) -> None:
        if error is None:
            self.result.acked[name] = round(time.monotonic() - self._started, 2)
        else:
            self.result.errors[name] = error.str()
        self._pending.discard(name)

    def poll(self, seconds: float = 0.0) -> None:
        self._producer.poll(seconds)

    @property
    def done(self) -> bool:
        return not self._pending

    def close(self) -> None:
        """Abort the transaction (its records stay invisible to read_committed readers)."""
        if not self._open:
            return
        self._open = False
        # A cluster still without quorum: the transaction then times out on its own.
        with contextlib.suppress(KafkaException):
            self._producer.abort_transaction(30)
