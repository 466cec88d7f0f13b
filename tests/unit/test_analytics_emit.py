"""The analytics emission policy: the latest result per window per checkpoint, written before
the checkpoint commits (a failed write must abort it)."""

from __future__ import annotations

from typing import Any

import pytest

from kafkalab.services.analytics.emit import Latest, LatestSink, slot


def result(metric: str, window: str, start: int, value: float) -> dict[str, Any]:
    return {
        "metric": metric,
        "window": window,
        "window_start": start,
        "window_end": start + 60_000,
        "value": value,
        "count": int(value),
    }


def test_latest_keeps_the_newest_result_per_window_in_order_of_first_appearance() -> None:
    latest = Latest()
    for n in range(1, 6):
        latest.offer(result("orders_count", "tumbling-60s", 0, n))
        latest.offer(result("orders_count", "tumbling-60s", 60_000, 10 * n))
    latest.offer(result("orders_total", "running", 5, 1))
    latest.offer(result("orders_total", "running", 3, 2))  # an older late record moved the start
    out = latest.drain()
    assert [(r["window_start"], r["value"]) for r in out] == [(0, 5), (60_000, 50), (3, 2)]
    assert latest.offered == 12 and len(latest) == 0 and latest.drain() == []


def test_a_running_figure_is_one_slot_whatever_its_start() -> None:
    assert slot(result("orders_total", "running", 5, 1)) == slot(
        result("orders_total", "running", 3, 1)
    )
    assert slot(result("orders_count", "tumbling-60s", 0, 1)) != slot(
        result("orders_count", "tumbling-60s", 60_000, 1)
    )


class Recorder:
    """Stands in for confluent's Producer (no broker in a unit test): records what is produced
    and reports each delivery as the broker would, with `error` or without."""

    def __init__(self, error: str | None = None, stuck: int = 0) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.error = error
        self.stuck = stuck
        self._callbacks: list[Any] = []

    def produce(self, topic: str, key: bytes, value: bytes, headers: Any, on_delivery: Any) -> None:
        self.sent.append((topic, key, value))
        self._callbacks.append(on_delivery)

    def flush(self, timeout: float) -> int:
        for callback in self._callbacks:
            callback(self.error, None)
        self._callbacks.clear()
        return self.stuck


def sink_with(producer: Recorder) -> LatestSink:
    return LatestSink(
        producer,  # type: ignore[arg-type]
        "analytics",
        lambda r: (r["metric"].encode(), str(r["value"]).encode()),
        [("event_type", b"AnalyticsWindow")],
    )


def add(sink: LatestSink, value: dict[str, Any]) -> None:
    sink.add(value, "all", 0, [], "repartition", 0, 0)


def test_the_sink_writes_one_record_per_window_at_each_flush() -> None:
    producer = Recorder()
    sink = sink_with(producer)
    for n in range(1, 101):
        add(sink, result("orders_count", "tumbling-60s", 0, n))
    sink.flush()
    assert producer.sent == [("analytics", b"orders_count", b"100")]
    sink.flush()  # nothing new: nothing written
    assert len(producer.sent) == 1 and sink.written == 1


@pytest.mark.parametrize("producer", [Recorder(error="broker down"), Recorder(stuck=1)])
def test_an_unacknowledged_write_aborts_the_checkpoint(producer: Recorder) -> None:
    sink = sink_with(producer)
    add(sink, result("orders_count", "tumbling-60s", 0, 1))
    with pytest.raises(RuntimeError, match="not acknowledged"):
        sink.flush()
    assert sink.written == 0


def test_the_ledger_totals_are_written_at_every_change_with_their_inputs_time() -> None:
    producer = Recorder()
    stamps: list[Any] = []
    real = producer.produce

    def produce(topic: str, key: bytes, value: bytes, headers: Any, on_delivery: Any, **kw: Any):
        stamps.append(kw.get("timestamp"))
        real(topic, key, value, headers, on_delivery)

    producer.produce = produce  # type: ignore[method-assign]
    sink = sink_with(producer)
    for n, ts in ((1, 1_000), (1, 1_500), (2, 1_200), (3, 2_000)):  # 1_500: unchanged, skipped
        sink.add(result("orders_total", "running", 0, n), "all", ts, [], "repartition", 0, 0)
    for n in range(1, 4):
        add(sink, result("orders_count", "tumbling-60s", 0, n))
    sink.flush()
    assert producer.sent == [
        ("analytics", b"orders_total", b"1"),
        ("analytics", b"orders_total", b"2"),
        ("analytics", b"orders_total", b"3"),
        ("analytics", b"orders_count", b"3"),
    ]
    assert stamps == [1_000, 1_200, 2_000, None]  # the others are stamped when written
