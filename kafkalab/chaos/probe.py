"""What a client did about a network fault: a probe producer behind the same proxies.

The services' own producers keep their figures to themselves, so the network commands run a
probe beside them: a producer built like theirs (`clients.producer`: idempotent, acks=all,
librdkafka's default timeouts) and routed through the same toxiproxy proxies, sending one
numbered record every PERIOD seconds to `PROBE_TOPIC`. Its figures come from two places:

- librdkafka's statistics (`statistics.interval.ms`, summed over brokers): request retries
  (`txretries`), requests that timed out (`req_timeouts`), disconnects, and the round-trip p99;
- its delivery reports and a read-back on the direct listener: records acknowledged, records
  that failed (message.timeout.ms / delivery.timeout.ms ran out), the slowest acknowledgement,
  and duplicates among the records read back (an idempotent producer's retries write none).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from kafkalab import clients
from kafkalab.connection import Connection

PROBE_TOPIC = "kafkalab-chaos-probe"
PERIOD = 0.1


@dataclass
class ProbeFigures:
    """The probe's tally; `source` says where each figure comes from."""

    sent: int = 0
    acknowledged: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # error name → records
    slowest_ack_s: float = 0.0
    retries: int = 0
    request_timeouts: int = 0
    disconnects: int = 0
    rtt_p99_ms: float = 0.0
    read_back: int = 0
    duplicates: int = 0
    first_ack_after_heal_s: float | None = None
    timeout_ms: int = 300000  # the probe's delivery.timeout.ms (librdkafka's default)
    sources: dict[str, str] = field(
        default_factory=lambda: {
            "sent, acknowledged, failed, slowest_ack_s": "the probe's delivery reports",
            "retries, request_timeouts, disconnects, rtt_p99_ms": "librdkafka statistics",
            "read_back, duplicates": "the probe topic read back on the direct listener",
        }
    )

    def lines(self) -> list[str]:
        failed = ", ".join(f"{n} {name}" for name, n in self.failed.items()) or "none"
        return [
            f"probe producer (idempotent, acks=all, delivery.timeout.ms {self.timeout_ms}, "
            f"through the proxies): {self.sent} sent, "
            f"{self.acknowledged} acknowledged, failed: {failed}; slowest acknowledgement "
            f"{self.slowest_ack_s:.2f} s  [delivery reports]",
            f"librdkafka: {self.retries} request retries, {self.request_timeouts} request "
            f"timeouts, {self.disconnects} disconnects, worst round-trip p99 {self.rtt_p99_ms:.0f} ms"
            "  [librdkafka statistics]",
            f"read back: {self.read_back} records, {self.duplicates} duplicates — "
            + self._duplicates_said()
            + "  [the probe topic, direct listener]",
        ]

    def _duplicates_said(self) -> str:
        """What the duplicate count means, and never more than the figures show."""
        if self.duplicates:
            timed_out = sum(self.failed.values())
            return (
                f"{self.duplicates} record(s) are on the topic more than once although the "
                "producer is idempotent"
                + (
                    f", in a run where {timed_out} delivery(ies) timed out on the client"
                    if timed_out
                    else ""
                )
            )
        if self.retries:
            return (
                f"{self.retries} retried request(s) wrote nothing twice: the broker drops a "
                "batch it already has (producer id + sequence number)"
            )
        return "no request was retried, so idempotence had nothing to deduplicate"


class Probe:
    """Start it before the fault, `healed()` when the network heals, `stop()` at the end."""

    def __init__(
        self,
        direct: Connection,
        proxied: Connection,
        brokers: int,
        delivery_timeout_ms: int | None = None,
    ) -> None:
        self.direct, self.proxied, self.brokers = direct, proxied, brokers
        # None: librdkafka's default (300000), as the services run; lower it to see failures.
        self.delivery_timeout_ms = delivery_timeout_ms
        self.figures = ProbeFigures(timeout_ms=delivery_timeout_ms or 300000)
        self.run_id = f"{time.time_ns()}"
        self._stats: dict[str, object] = {}
        self._sent_at: dict[int, float] = {}
        self._healed_at: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._work, name="chaos-probe", daemon=True)

    def start(self) -> None:
        admin = clients.admin(self.direct)
        if PROBE_TOPIC not in admin.list_topics(timeout=10).topics:
            rf = 3 if self.brokers >= 3 else 1
            futures = admin.create_topics([NewTopic(PROBE_TOPIC, 1, rf)])
            with contextlib.suppress(Exception):  # created meanwhile by another run
                futures[PROBE_TOPIC].result(timeout=30)
        self._thread.start()

    def healed(self) -> None:
        self._healed_at = time.monotonic()

    def stop(self) -> ProbeFigures:
        self._done.set()
        self._thread.join(60)
        self._read_back()
        return self.figures

    def _on_stats(self, raw: str) -> None:
        """Keep the latest (cumulative) report, and the worst round trip of any window: the
        `rtt` window covers only the last interval, which after the heal is a calm one."""
        self._stats = json.loads(raw)
        brokers = self._stats.get("brokers")
        for broker in brokers.values() if isinstance(brokers, dict) else []:
            p99_ms = (broker.get("rtt") or {}).get("p99", 0) / 1000
            self.figures.rtt_p99_ms = max(self.figures.rtt_p99_ms, p99_ms)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        seq = int((msg.key() or b"0").decode().rsplit("-", 1)[-1])
        now = time.monotonic()
        if err is not None:
            name = err.name()
            self.figures.failed[name] = self.figures.failed.get(name, 0) + 1
            return
        self.figures.acknowledged += 1
        took = now - self._sent_at.pop(seq, now)
        self.figures.slowest_ack_s = max(self.figures.slowest_ack_s, took)
        if self._healed_at is not None and self.figures.first_ack_after_heal_s is None:
            self.figures.first_ack_after_heal_s = now - self._healed_at

    def _work(self) -> None:
        timeout = (
            {"delivery.timeout.ms": self.delivery_timeout_ms} if self.delivery_timeout_ms else {}
        )
        producer = clients.producer(
            self.proxied,
            **{"statistics.interval.ms": 1000, "stats_cb": self._on_stats, "log_level": 0},
            **timeout,
        )
        seq = 0
        next_at = time.monotonic()
        while not self._done.is_set():
            self._sent_at[seq] = time.monotonic()
            producer.produce(
                PROBE_TOPIC, key=f"{self.run_id}-{seq}", value=b"", on_delivery=self._on_delivery
            )
            self.figures.sent += 1
            seq += 1
            next_at += PERIOD
            while (left := next_at - time.monotonic()) > 0:  # poll returns early on events
                producer.poll(left)
        producer.flush(30)
        producer.poll(1.5)  # one more statistics report, after the last delivery
        self._sum_stats()

    def _sum_stats(self) -> None:
        brokers = self._stats.get("brokers")
        if not isinstance(brokers, dict):
            return
        for broker in brokers.values():
            self.figures.retries += int(broker.get("txretries", 0))
            self.figures.request_timeouts += int(broker.get("req_timeouts", 0))
            self.figures.disconnects += int(broker.get("disconnects", 0))

    def _read_back(self) -> None:
        consumer = clients.consumer(self.direct, f"kafkalab-chaos-probe-{self.run_id}")
        partition = TopicPartition(PROBE_TOPIC, 0)
        _low, high = consumer.get_watermark_offsets(partition, timeout=10)
        consumer.assign([TopicPartition(PROBE_TOPIC, 0, max(high - 5 * self.figures.sent, 0))])
        seen: dict[bytes, int] = {}
        deadline = time.monotonic() + 30
        position = 0
        while position < high and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            position = (message.offset() or 0) + 1
            key = message.key() or b""
            if key.startswith(self.run_id.encode()):
                seen[key] = seen.get(key, 0) + 1
        consumer.close()
        self.figures.read_back = sum(seen.values())
        self.figures.duplicates = sum(n - 1 for n in seen.values())
