"""From what order-events said to figures: terminal or LOST per order, and latency percentiles.

An order the platform accepted either reached CONFIRMED, CANCELLED or REJECTED on order-events
before the drain deadline, or it is LOST. There is no third bucket: an order that would have
finished "eventually" is not counted as a slow success, because nobody saw it finish.
Latencies go into HDR histograms (fixed relative precision, no sorting of raw samples).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from kafkalab.load.report import Latency, Outcomes

TERMINAL = frozenset({"CONFIRMED", "CANCELLED", "REJECTED"})
HIGHEST_MS = 3_600_000
"""An hour: anything slower is recorded as an hour (and would be lost long before anyway)."""


class LatencyRecorder:
    """Millisecond latencies in an HDR histogram, 3 significant digits, 0 ms to 1 h."""

    def __init__(self) -> None:
        self._histogram = HdrHistogram(1, HIGHEST_MS, 3)

    def record(self, millis: float) -> None:
        # Record timestamps are ms-grained and set by different producers: a negative difference
        # is clock granularity, not time travel. Out-of-range values would be dropped silently.
        self._histogram.record_value(int(min(max(millis, 0), HIGHEST_MS)))

    def summary(self) -> Latency:
        h = self._histogram
        count = h.get_total_count()
        if count == 0:
            return Latency()
        return Latency(
            count=count,
            p50=h.get_value_at_percentile(50),
            p95=h.get_value_at_percentile(95),
            p99=h.get_value_at_percentile(99),
            max=h.get_max_value(),
            mean=round(h.get_mean_value(), 1),
        )


@dataclass(frozen=True)
class Terminal:
    status: str
    timestamp_ms: int


@dataclass
class Judged:
    outcomes: Outcomes
    latency: Latency
    lost_ids: list[str]
    last_terminal_ms: int


def judge(
    order_ids: Iterable[str],
    created_ms: Mapping[str, int],
    terminal: Mapping[str, Terminal],
) -> Judged:
    """Count the outcomes of `order_ids` and their OrderCreated → terminal latencies.

    `terminal` holds only what was seen before the drain deadline, so "not in it" means LOST.
    An order whose terminal state was seen but whose OrderCreated was not (it cannot happen
    when the watcher starts before the first order) has no latency and is counted as terminal.
    """
    outcomes = Outcomes()
    recorder = LatencyRecorder()
    lost: list[str] = []
    last = 0
    for order_id in order_ids:
        outcomes.accepted += 1
        end = terminal.get(order_id)
        if end is None:
            outcomes.lost += 1
            lost.append(order_id)
            continue
        if end.status == "CONFIRMED":
            outcomes.confirmed += 1
        elif end.status == "CANCELLED":
            outcomes.cancelled += 1
        else:
            outcomes.rejected += 1
        last = max(last, end.timestamp_ms)
        start = created_ms.get(order_id)
        if start is not None:
            recorder.record(end.timestamp_ms - start)
    return Judged(outcomes, recorder.summary(), lost, last)
