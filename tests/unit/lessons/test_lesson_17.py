"""Lesson 17's check says ✘ for each way the dashboard can disagree with the analytics topic."""

from __future__ import annotations

from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

m = load_module(find(17), "check")
Record, Seen, check = m.Record, m.Seen, m.check

RECORDS = [
    Record(0, 0, "orders_total", "running", 100, 5.0),
    Record(0, 1, "orders_total", "running", 90, 7.0),  # an earlier first_ms, yet the newest total
    Record(1, 0, "orders_count", "tumbling-60s", 60_000, 3.0),
    Record(1, 1, "orders_count", "tumbling-60s", 120_000, 1.0),
    Record(1, 2, "orders_count", "tumbling-60s", 60_000, 4.0),  # a late update of the old window
    Record(2, 0, "revenue_cents", "tumbling-60s", 120_000, 900.0),
    Record(2, 1, "payment_success_rate", "tumbling-60s", 120_000, 0.5),
]
SHOWN = {
    "orders_total": 7.0,
    "orders_per_min": 1.0,
    "revenue_per_min_cents": 900.0,
    "payment_success_rate": 0.5,
}


def good() -> Any:
    return Seen(
        placed=2,
        wanted=2,
        total_before=5.0,
        records=list(RECORDS),
        dashboard=dict(SHOWN),
        same_offsets=True,
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_the_topic_rules() -> None:
    figures = m.from_topic(RECORDS)
    assert figures["orders_total"] == 7.0  # highest offset, not greatest window_start
    assert figures["orders_per_min"] == 1.0  # newest window, not the last record


def test_a_stale_total_on_the_dashboard_fails() -> None:
    seen = good()
    seen.dashboard["orders_total"] = 5.0
    assert failing(check(seen)) == {"dashboard orders_total = topic"}


def test_the_previous_minute_on_the_dashboard_fails() -> None:
    seen = good()
    seen.dashboard["orders_per_min"] = 4.0
    assert failing(check(seen)) == {"dashboard orders_per_min = topic"}


def test_a_wrong_revenue_or_rate_fails() -> None:
    seen = good()
    seen.dashboard["revenue_per_min_cents"] = 901.0
    seen.dashboard["payment_success_rate"] = None
    assert failing(check(seen)) == {
        "dashboard revenue_per_min_cents = topic",
        "dashboard payment_success_rate = topic",
    }


def test_orders_not_counted_fails() -> None:
    seen = good()
    seen.total_before = 6.0
    assert failing(check(seen)) == {"analytics counted the demo's orders"}


def test_refused_orders_fail() -> None:
    seen = good()
    seen.placed = 1
    assert failing(check(seen)) == {"every order accepted"}


def test_a_moving_topic_fails() -> None:
    seen = good()
    seen.same_offsets = False
    assert failing(check(seen)) == {"dashboard and topic read at the same point"}
