"""Lesson 15's check says ✘ for each way the windows can be wrong."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

m = load_module(find(15), "check")
Event, Window, Late, Seen, check = m.Event, m.Window, m.Late, m.Seen, m.check

SIZE, STEP, GRACE = 10_000, 5_000, 5_000
TIMES = [1, 3, 7, 12, 14, 18, 21, 26, 29, 33, 27, 8, 36, 41, 44, 70]


def good() -> Any:
    sent = [Event(60_000 + s * 1000, 100 + s) for s in TIMES]
    tumbling, t_late = m.expected_windows(sent, SIZE, SIZE, GRACE)
    hopping, h_late = m.expected_windows(sent, SIZE, STEP, GRACE)
    return Seen(SIZE, STEP, GRACE, sent, list(tumbling), list(hopping), t_late + h_late)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_the_rules_by_hand() -> None:
    """A few windows worked out on paper, so expected_windows() is not only checked by itself."""
    seen = good()
    by_range = {(w.start - 60_000, w.end - 60_000): w.orders for w in seen.tumbling}
    assert by_range == {
        (0, 10_000): 3,
        (10_000, 20_000): 3,
        (20_000, 30_000): 4,
        (30_000, 40_000): 2,
        (40_000, 50_000): 2,
    }
    assert {(x.ts - 60_000, x.start - 60_000) for x in seen.late} == {(8000, 0), (8000, 5000)}


def test_a_wrong_tumbling_count_fails() -> None:
    seen = good()
    seen.tumbling[2] = replace(seen.tumbling[2], orders=3)  # the in-grace record left out
    assert "tumbling windows = independent count" in failing(check(seen))


def test_a_missing_hopping_window_fails() -> None:
    seen = good()
    seen.hopping.pop(0)  # [-5, 5): not on a tumbling boundary
    assert failing(check(seen)) == {"hopping windows = independent count"}


def test_a_too_late_record_counted_fails() -> None:
    seen = good()
    seen.tumbling[0] = replace(seen.tumbling[0], orders=4)
    seen.late = [x for x in seen.late if x.start != seen.tumbling[0].start]
    assert {
        "tumbling windows = independent count",
        "too-late records dropped (and reported)",
    } <= failing(check(seen))


def test_no_late_record_in_the_run_fails() -> None:
    seen = good()
    seen.sent = sorted(seen.sent, key=lambda e: e.ts)
    tumbling, t_late = m.expected_windows(seen.sent, SIZE, SIZE, GRACE)
    hopping, h_late = m.expected_windows(seen.sent, SIZE, STEP, GRACE)
    seen.tumbling, seen.hopping, seen.late = tumbling, hopping, t_late + h_late
    assert failing(check(seen)) == {
        "a late record within grace was counted",
        "some record was too late",
    }


def test_a_tumbling_window_unlike_its_hopping_twin_fails() -> None:
    seen = good()
    seen.hopping = [
        replace(w, revenue_cents=w.revenue_cents + 1) if w.start % SIZE == 0 else w
        for w in seen.hopping
    ]
    assert "each tumbling window is also a hopping window" in failing(check(seen))
