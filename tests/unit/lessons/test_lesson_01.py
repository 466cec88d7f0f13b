"""Lesson 1's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

import random

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(1), "check")
Step, Seen, check = check_module.Step, check_module.Seen, check_module.check

T0 = 1_700_000_000_000


def good() -> object:
    """The records as the broker stored them (topic, partition, offset, timestamp)."""
    steps = [
        Step("user", "UserRegistered", "e1", "", "user-events", 2, 40, T0),
        Step("user", "UserLoggedIn", "e2", "", "user-events", 2, 41, T0 + 120),
        Step("order", "OrderCreated", "e3", "", "order-events", 4, 7, T0 + 300),
        Step("inventory", "InventoryReserved", "e4", "e3", "inventory-events", 1, 3, T0 + 310),
        Step("payment", "PaymentCompleted", "e5", "e4", "payments", 0, 9, T0 + 330),
        Step("inventory", "StockCommitted", "e6", "e5", "inventory-events", 1, 4, T0 + 345),
        Step("order", "OrderStatusChanged", "e7", "e6", "order-events", 4, 8, T0 + 345),
        Step("notification", "NotificationSent", "e8", "e7", "notifications", 5, 2, T0 + 360),
        # Analytics' total carries the timestamp of the event it counted: a tie, not an error.
        Step("analytics", "AnalyticsWindow", "a1", "e3", "analytics", 1, 12, T0 + 300),
    ]
    return Seen(order_status="CONFIRMED", steps=steps)


def detail(seen: object, name: str) -> str:
    return next(c.detail for c in check(seen) if c.name == name)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_the_order_the_steps_come_in_does_not_matter() -> None:
    seen = good()
    random.Random(1).shuffle(seen.steps)  # the check reads the broker's order, not the list's
    assert passed(check(seen))


def test_an_order_not_confirmed_fails() -> None:
    seen = good()
    seen.order_status = "PAID"
    assert failing(check(seen)) == {"the order ends CONFIRMED"}


def test_a_silent_service_fails() -> None:
    seen = good()
    seen.steps = [s for s in seen.steps if s.service != "analytics"]
    assert failing(check(seen)) == {"events from each of the six services"}


def test_an_effect_stamped_before_its_cause_fails() -> None:
    """A payment the broker holds with an earlier timestamp than the reservation it answers."""
    seen = good()
    seen.steps[4].timestamp_ms = T0 + 305
    assert "every event after its cause" in failing(check(seen))
    assert detail(seen, "every event after its cause") == (
        f"PaymentCompleted (payments[0]@9, {T0 + 305}) before its cause "
        f"InventoryReserved (inventory-events[1]@3, {T0 + 310})"
    )


def test_an_effect_at_a_lower_offset_than_its_cause_fails() -> None:
    """Same partition: the broker's offsets decide, whatever the timestamps say."""
    seen = good()
    status = seen.steps[6]  # on order-events[4], like the OrderCreated (e3) at offset 7
    status.cause, status.offset = "e3", 6  # caused by it, yet appended before it
    assert failing(check(seen)) == {"every event after its cause"}
    assert "OrderStatusChanged (order-events[4]@6" in detail(seen, "every event after its cause")


def test_on_one_partition_the_offset_decides_not_the_timestamp() -> None:
    """Two producers' clocks may disagree; the broker's append order on a partition cannot."""
    seen = good()
    status = seen.steps[6]
    status.cause, status.offset, status.timestamp_ms = "e3", 9, T0 + 290  # appended after e3
    assert passed(check(seen))
    assert "1 by offset on one partition" in detail(seen, "every event after its cause")


def test_analytics_not_linked_to_the_order_fails() -> None:
    seen = good()
    seen.steps[-1].cause = "someone-elses-order"
    assert failing(check(seen)) == {"every event after its cause"}
    assert detail(seen, "every event after its cause") == (
        "AnalyticsWindow with no input of this order"
    )


def test_no_link_at_all_fails() -> None:
    seen = good()
    for step in seen.steps:
        step.cause = ""
    seen.steps = [s for s in seen.steps if s.service != "analytics"]
    assert "every event after its cause" in failing(check(seen))


def test_a_story_out_of_order_fails() -> None:
    seen = good()
    seen.steps[1].timestamp_ms = T0 - 5  # logged in before registering
    assert failing(check(seen)) == {"the story in causal order"}
    assert detail(seen, "the story in causal order") == (
        f"UserRegistered at {T0} after UserLoggedIn at {T0 - 5}"
    )


def test_a_missing_milestone_fails() -> None:
    seen = good()
    seen.steps = [s for s in seen.steps if s.event_type != "StockCommitted"]
    seen.steps[5].cause = ""  # the status change lost its cause with it
    assert failing(check(seen)) == {"the story in causal order"}
    assert detail(seen, "the story in causal order") == "missing: StockCommitted"
