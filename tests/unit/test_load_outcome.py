"""The load report's maths: HDR percentiles, and an order that never ends is LOST, not slow."""

from __future__ import annotations

import pytest

from kafkalab.load.outcome import HIGHEST_MS, LatencyRecorder, Terminal, judge


def test_percentiles_come_from_the_histogram_within_its_precision() -> None:
    recorder = LatencyRecorder()
    for millis in range(1, 1001):  # 1 … 1000 ms, one each
        recorder.record(millis)
    summary = recorder.summary()
    assert summary.count == 1000
    # 3 significant digits: each percentile is within 0.1 % of the exact value
    assert summary.p50 == pytest.approx(500, rel=1e-3)
    assert summary.p95 == pytest.approx(950, rel=1e-3)
    assert summary.p99 == pytest.approx(990, rel=1e-3)
    assert summary.max == pytest.approx(1000, rel=1e-3)
    assert summary.mean == pytest.approx(500.5, rel=1e-3)


def test_a_few_slow_orders_show_in_p99_and_max_but_not_p50() -> None:
    recorder = LatencyRecorder()
    for _ in range(980):
        recorder.record(20)
    for _ in range(20):
        recorder.record(4_000)
    summary = recorder.summary()
    assert summary.p50 == 20 and summary.p95 == 20
    assert summary.p99 == pytest.approx(4_000, rel=1e-3)
    assert summary.max == pytest.approx(4_000, rel=1e-3)


def test_out_of_range_values_are_clamped_not_dropped() -> None:
    recorder = LatencyRecorder()
    recorder.record(-3)  # ms-grained timestamps from two producers: 0, not a lost sample
    recorder.record(10 * HIGHEST_MS)  # an HDR histogram would silently drop it
    summary = recorder.summary()
    assert summary.count == 2
    assert summary.p50 == 0
    assert summary.max == pytest.approx(HIGHEST_MS, rel=1e-3)


def test_an_empty_histogram_reports_zero_orders() -> None:
    assert LatencyRecorder().summary().count == 0


def test_orders_without_a_terminal_state_are_lost_and_have_no_latency() -> None:
    created = {"a": 1_000, "b": 1_000, "c": 1_000, "d": 1_000}
    terminal = {
        "a": Terminal("CONFIRMED", 1_050),
        "b": Terminal("CANCELLED", 11_000),
        "c": Terminal("REJECTED", 1_020),
    }
    judged = judge(["a", "b", "c", "d"], created, terminal)
    assert judged.outcomes.accepted == 4
    assert (judged.outcomes.confirmed, judged.outcomes.cancelled, judged.outcomes.rejected) == (
        1,
        1,
        1,
    )
    assert judged.outcomes.lost == 1 and judged.lost_ids == ["d"]
    assert judged.outcomes.terminal == 3
    # the lost order is not a very slow sample: only the three that ended are measured
    assert judged.latency.count == 3
    assert judged.latency.max == pytest.approx(10_000, rel=1e-3)
    assert judged.last_terminal_ms == 11_000


def test_a_terminal_state_seen_for_an_order_of_another_run_does_not_count() -> None:
    judged = judge(["mine"], {"mine": 5}, {"theirs": Terminal("CONFIRMED", 9)})
    assert judged.outcomes.lost == 1
    assert judged.outcomes.confirmed == 0
