"""Lesson 19's check says ✘ for each way monitoring can fail: a silent or incomplete scrape, an
alert with no `for:` (firing at once), one that never fires or fires under its threshold, a
service left paused, an alert that never clears."""

from __future__ import annotations

import dataclasses
from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

m = load_module(find(19), "check")
g = load_module(find(19), "grade")
Sample, Scraped, Seen, check = m.Sample, m.Scraped, m.Seen, m.check
BrokerView = m.BrokerView


def good() -> Any:
    scraped = [Scraped(e, True, []) for e in m.ENDPOINTS]
    samples = [
        Sample("paused", 4.0, "inactive", None, 0.0, 28, False),
        Sample("paused", 9.0, "pending", 64.0, 0.0, 64, False),
        Sample("paused", 17.0, "pending", 64.0, 8.0, 64, False),
        Sample("paused", 25.0, "firing", 64.0, 16.0, 64, False),
        Sample("resumed", 28.0, "pending", 12.0, 19.0, 12, True),
        Sample("resumed", 31.0, "inactive", None, 0.0, 0, True),
    ]
    broker = BrokerView(0.0, 0.0, 1.0, 42.0, 0.004)
    return Seen(scraped, broker, threshold=50.0, for_seconds=15.0, samples=samples)


def replace(seen: Any, index: int, **changes: Any) -> Any:
    seen.samples[index] = dataclasses.replace(seen.samples[index], **changes)
    return seen


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_silent_endpoint_fails() -> None:
    seen = good()
    seen.scraped = [s for s in seen.scraped if s.endpoint != "platform"]
    assert failing(check(seen)) == {
        "every endpoint answered /metrics",
        "every catalogue metric exported with its type",
    }


def test_a_missing_metric_fails() -> None:
    seen = good()
    seen.scraped[1] = Scraped("order", True, ["kafkalab_orders_created_total"])
    assert failing(check(seen)) == {"every catalogue metric exported with its type"}


def test_a_silent_broker_fails() -> None:
    seen = good()
    seen.scraped = [s for s in seen.scraped if s.endpoint != "broker"]
    seen.broker = None
    assert failing(check(seen)) == {
        "every endpoint answered /metrics",
        "every catalogue metric exported with its type",
        "the broker reports every partition led and in sync",
        "the broker timed Produce requests",
    }


def test_an_unhealthy_broker_fails() -> None:
    for change in ({"under_replicated": 3.0}, {"offline": 1.0}, {"active_controllers": 0.0}):
        seen = good()
        seen.broker = dataclasses.replace(seen.broker, **change)
        assert failing(check(seen)) == {"the broker reports every partition led and in sync"}


def test_no_produce_request_timed_fails() -> None:
    seen = good()
    seen.broker = dataclasses.replace(seen.broker, produce_requests=0.0)
    assert failing(check(seen)) == {"the broker timed Produce requests"}


def test_firing_without_pending_fails() -> None:
    seen = good()  # a rule without `for:` fires at its first true evaluation
    seen.for_seconds = 0.0
    seen.samples = [s for s in seen.samples if s.state != "pending"]
    assert failing(check(seen)) == {"lag alert pending before firing"}


def test_never_firing_fails() -> None:
    seen = replace(good(), 3, state="pending")
    assert failing(check(seen)) == {
        "lag alert fired while paused, over its threshold",
        "lag alert cleared after resume",  # nothing to clear
    }


def test_firing_under_the_threshold_fails() -> None:
    seen = replace(good(), 3, value=40.0)
    assert failing(check(seen)) == {"lag alert fired while paused, over its threshold"}


def test_firing_before_for_elapsed_fails() -> None:
    seen = replace(good(), 3, active_for=9.0)
    assert failing(check(seen)) == {"lag alert fired while paused, over its threshold"}


def test_firing_only_after_resume_does_not_count() -> None:
    seen = replace(good(), 3, state="pending")
    seen = replace(seen, 4, state="firing")
    assert "lag alert fired while paused, over its threshold" in failing(check(seen))


def test_a_service_left_paused_fails() -> None:
    seen = replace(good(), -1, up=False)
    assert failing(check(seen)) == {"paused service answers again after resume"}


def test_an_alert_that_never_clears_fails() -> None:
    seen = replace(good(), -1, state="firing", value=64.0, lag=64)
    assert failing(check(seen)) == {"lag alert cleared after resume"}


def test_inactive_with_lag_left_fails() -> None:
    seen = replace(good(), -1, lag=30)  # under the threshold, but not caught up
    assert failing(check(seen)) == {"lag alert cleared after resume"}


def test_no_evaluation_after_resume_fails() -> None:
    seen = good()
    seen.samples = [s for s in seen.samples if s.phase == "paused"]
    assert failing(check(seen)) == {
        "paused service answers again after resume",
        "lag alert cleared after resume",
    }


# -- the exercise's grader: its verdicts on what the evaluations showed ---------------------------


def alert(state: str, group: str = "kafkalab-notification", value: float = 144.0) -> Any:
    labels = {"group": group} if group else {"endpoint": "notification"}
    return g.Alert("ConsumerGroupBehind", state, labels, value, "", "warning", 6.0, 5.0)


def phase(states: list[str], fired: list[Any] | None = None) -> Any:
    return g.Phase(states=states, fired=fired or [], lag=[40, 96, 144], seconds=20.0)


def test_the_grader_passes_an_alert_that_fires_for_the_paused_group() -> None:
    assert g._fired(phase(["inactive", "pending", "firing"], [alert("firing")])).ok
    assert g._quiet(phase(["inactive"] * 6)).ok


def test_the_grader_fails_an_alert_firing_on_a_healthy_platform() -> None:
    check = g._quiet(phase(["firing"], [alert("firing", "kafkalab-analytics", 15.0)]))
    assert not check.ok and "fired on a healthy platform" in check.detail and check.fix


def test_the_grader_fails_an_alert_that_never_goes_active() -> None:
    check = g._fired(phase(["inactive"] * 8))
    assert not check.ok and "never active" in check.detail and "sum by (group)" in check.fix


def test_the_grader_blames_for_when_the_alert_stays_pending() -> None:
    check = g._fired(phase(["inactive", "pending", "pending", "pending"]))
    assert not check.ok and "`for:` outlasted the pause" in check.detail
    assert "shorter than the pause" in check.fix


def test_the_grader_wants_the_group_named() -> None:
    check = g._fired(phase(["inactive"] * 3, [alert("firing", group="", value=0.0)]))
    assert not check.ok and "no alert named the group" in check.detail and "by (group)" in check.fix
