"""How analytics writes its results: the latest value of each window, once per checkpoint.

Why not every update: `.current()` yields a result for every record a window takes in. A
hopping 60 s / 10 s window alone turns one order into six results, and with every metric
counted the `analytics` topic took ~35 records per order — more than the whole order flow.
A dashboard needs the *latest* value of each figure, a few times a second at most.

So the results go to `LatestSink`, a quixstreams sink. quixstreams calls a sink's `flush()` at
every checkpoint (`commit_interval`, `EMIT_EVERY_S` here) *before* it commits the input
offsets; the sink then writes only the newest result of each (metric, window, window_start)
seen since the last flush, and waits for the broker to acknowledge them. Hence:
- at most one record per window per checkpoint, whatever the order rate (an update rate bounded
  in time, like Kafka Streams' `suppress(untilTimeLimit(...))`);
- the topic lags the stream by at most one checkpoint, and the last value of a window is
  always written (a closed window's last update is its final value);
- at-least-once still: if writing fails the checkpoint aborts and the input is read again.

Two figures are the exception: the running `orders_total` and `revenue_total_cents` are the
shop's ledger, which the invariant checker compares with `order-events`. Each change of them is
written (about two records per order), stamped with the timestamp of the input that made it, so
a checker that reads only a window can tell the orders counted before it from those counted in
it (`observe/verify.py::_analytics`). A figure that only moves once a second could not say which
orders its first value in the window already held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Producer
from quixstreams.models import HeadersTuples
from quixstreams.sinks import BaseSink

from kafkalab.services.analytics.aggregate import ORDERS_TOTAL, REVENUE_TOTAL_CENTS, RUNNING

EMIT_EVERY_S = 1.0
"""The analytics app's checkpoint (commit) interval, hence how often the topic is updated."""

LEDGER = (ORDERS_TOTAL, REVENUE_TOTAL_CENTS)
"""Running figures written at every change, with their input's timestamp (see above)."""

Slot = tuple[str, str, int]
"""(metric, window, window_start): one figure of one window. A running figure is one slot
whatever its window_start (the earliest event seen, which an older late record can move)."""


def slot(result: dict[str, Any]) -> Slot:
    """Where a result belongs: a later result in the same slot replaces it."""
    window = str(result["window"])
    start = 0 if window == RUNNING else int(result["window_start"])
    return (str(result["metric"]), window, start)


class Latest:
    """The newest result per slot since the last `drain()`, in order of first appearance."""

    def __init__(self) -> None:
        self._pending: dict[Slot, dict[str, Any]] = {}
        self.offered = 0
        """Results offered since the start (what `.current()` yielded)."""

    def offer(self, result: dict[str, Any]) -> None:
        self.offered += 1
        self._pending[slot(result)] = result

    def drain(self) -> list[dict[str, Any]]:
        """The results to write now; the buffer is empty afterwards."""
        out = list(self._pending.values())
        self._pending.clear()
        return out

    def __len__(self) -> int:
        return len(self._pending)


Serialize = Callable[[dict[str, Any]], tuple[bytes, bytes]]
"""A result → (key, value) bytes, as the output topic's serializers make them."""


class LatestSink(BaseSink):
    """A quixstreams sink writing the latest result of each slot at every checkpoint."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        serialize: Serialize,
        headers: Sequence[tuple[str, bytes]],
        flush_timeout: float = 30.0,
        on_written: Callable[[int], None] = lambda _n: None,
    ) -> None:
        super().__init__(on_client_connect_success=lambda: None)
        self.producer = producer
        self.topic = topic
        self.serialize = serialize
        self.headers = list(headers)
        self.flush_timeout = flush_timeout
        self.on_written = on_written
        self.latest = Latest()
        self.ledger: list[tuple[dict[str, Any], int]] = []
        """Changes of the LEDGER figures since the last flush, with their input's timestamp."""
        self._ledger_last: dict[str, Any] = {}
        self.written = 0

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
        metric = value.get("metric")
        if value.get("window") == RUNNING and metric in LEDGER:
            self.latest.offered += 1
            if self._ledger_last.get(metric) != value.get("value"):
                self._ledger_last[metric] = value.get("value")
                self.ledger.append((value, timestamp))
            return
        self.latest.offer(value)

    def flush(self) -> None:
        """Write the pending results and wait for the acknowledgements; raising here aborts
        the checkpoint, so the input offsets are not committed (at-least-once)."""
        stamped = [*self.ledger, *((result, None) for result in self.latest.drain())]
        self.ledger = []
        if not stamped:
            return
        failed: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        for result, timestamp in stamped:
            key, value = self.serialize(result)
            stamp = {} if timestamp is None else {"timestamp": timestamp}
            self.producer.produce(
                self.topic,
                key=key,
                value=value,
                headers=self.headers,
                on_delivery=delivered,
                **stamp,
            )
        remaining = self.producer.flush(self.flush_timeout)
        if remaining or failed:
            raise RuntimeError(
                f"analytics results not acknowledged ({remaining} in flight, "
                f"{len(failed)} failed: {failed[:1]})"
            )
        self.written += len(stamped)
        self.on_written(len(stamped))
