"""Lesson 19's break judges what Prometheus answered: the named check ✘ only when the learner's
alert fired for notification's group, and each question's truth follows the timings seen — so
the break, and each prediction, can come out either way."""

from __future__ import annotations

import time

import pytest

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.prometheus import OwnPrometheus
from kafkalab.curriculum.runner import load_module
from kafkalab.monitoring.rules import Alert

breaking = load_module(find(19), "breaking")
GROUP = "kafkalab-notification"


def alert(rule: str, state: str, labels: dict[str, str], active_for: float = 0.0) -> Alert:
    return Alert(rule, state, labels, 120.0, "", "warning", active_for, 5.0)  # type: ignore[arg-type]


def test_an_alert_that_fired_breaks_it_and_one_that_did_not_leaves_it_quiet() -> None:
    quiet = breaking.Seen(for_seconds=5.0, behind=130, polls=40)
    check = breaking._quiet(quiet)
    assert check.ok and "no rule of yours fired" in check.detail
    assert "when" not in breaking._truths(quiet) and "which" not in breaking._truths(quiet)
    fired = breaking.Seen(for_seconds=5.0, behind=130, pending_at=3.0, fired_at=9.5)
    fired.fired = alert("ConsumerGroupBehind", "firing", {"group": GROUP})
    check = breaking._quiet(fired)
    assert not check.ok
    assert (
        f"ConsumerGroupBehind fired for {GROUP} on Prometheus 10 s after the pause" in check.detail
    )


def test_the_when_truth_is_computed_from_pending_and_firing() -> None:
    def when(for_seconds: float, pending_at: float, fired_at: float) -> str:
        seen = breaking.Seen(for_seconds=for_seconds, pending_at=pending_at, fired_at=fired_at)
        seen.fired = alert("Mine", "firing", {"group": GROUP})
        return str(breaking._truths(seen)["when"])

    assert when(5.0, 3.0, 9.5) == breaking.AFTER  # for: 5 s, fired 6.5 s after pending
    assert when(0.0, 3.0, 3.5) == breaking.AT_ONCE  # no for: fires at the first evaluation
    assert when(5.0, 3.0, 20.0) == breaking.LATER  # much later than for: + one interval


def test_which_fired_first_is_read_from_the_alerts_about_notification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a long for:, the shipped KafkalabServiceDown fires first: that is the truth."""
    answers = [
        alert("KafkalabServiceDown", "firing", {"endpoint": "payment"}, 15.0),  # not notification
        alert("KafkalabServiceDown", "firing", {"endpoint": "notification"}, 15.0),
        alert("Mine", "pending", {"group": GROUP}, 12.0),
    ]
    monkeypatch.setattr(breaking.prometheus_api, "alerts", lambda _url: answers)
    seen = breaking.Seen(for_seconds=20.0)
    breaking._read(OwnPrometheus("http://127.0.0.1:1", 2.0), {"Mine"}, seen, time.monotonic())
    assert breaking._truths(seen)["which"] == breaking.DOWN
    assert seen.fired is None and seen.pending_at is not None  # pending: the check stays ✔
    assert seen.down == "firing"
    lag = alert("KafkalabConsumerLag", "firing", {"group": GROUP})
    assert breaking._choice(lag, {"Mine"}) == breaking.SHIPPED_LAG
