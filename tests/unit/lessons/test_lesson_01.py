"""Lesson 1's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(1), "check")
Step, Seen, check = check_module.Step, check_module.Seen, check_module.check


def good() -> object:
    steps = [
        Step("user", "UserRegistered", "e1", ""),
        Step("user", "UserLoggedIn", "e2", ""),
        Step("order", "OrderCreated", "e3", ""),
        Step("inventory", "InventoryReserved", "e4", "e3"),
        Step("payment", "PaymentCompleted", "e5", "e4"),
        Step("inventory", "StockCommitted", "e6", "e5"),
        Step("order", "OrderStatusChanged", "e7", "e6"),
        Step("notification", "NotificationSent", "e8", "e7"),
        Step("analytics", "AnalyticsWindow", "a1", "e3"),
    ]
    return Seen(order_status="CONFIRMED", steps=steps)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_an_order_not_confirmed_fails() -> None:
    seen = good()
    seen.order_status = "PAID"
    assert failing(check(seen)) == {"the order ends CONFIRMED"}


def test_a_silent_service_fails() -> None:
    seen = good()
    seen.steps = [s for s in seen.steps if s.service != "analytics"]
    assert failing(check(seen)) == {"events from each of the six services"}


def test_an_effect_before_its_cause_fails() -> None:
    seen = good()
    seen.steps[3], seen.steps[4] = seen.steps[4], seen.steps[3]  # payment before reservation
    assert "every event after its cause" in failing(check(seen))


def test_analytics_not_linked_to_the_order_fails() -> None:
    seen = good()
    seen.steps[-1] = Step("analytics", "AnalyticsWindow", "a1", "someone-elses-order")
    assert failing(check(seen)) == {"every event after its cause"}


def test_a_story_out_of_order_fails() -> None:
    seen = good()
    seen.steps[0], seen.steps[1] = seen.steps[1], seen.steps[0]  # login before registration
    assert failing(check(seen)) == {"the story in causal order"}


def test_a_missing_milestone_fails() -> None:
    seen = good()
    seen.steps = [s for s in seen.steps if s.event_type != "StockCommitted"]
    assert failing(check(seen)) == {"the story in causal order"}
