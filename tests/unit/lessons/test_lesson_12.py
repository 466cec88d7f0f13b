"""Lesson 12's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(12), "check")
GroupView, Seen, check = check_module.GroupView, check_module.Seen, check_module.check
CHANNELS = ("email", "sms", "push")


def group(channel: str, lag: int = 0) -> object:
    topic = f"notifications.{channel}"
    return GroupView(f"kafkalab-notification-{channel}", [topic], {topic: lag})


def good() -> object:
    orders = ["o-1", "o-2"]
    return Seen(
        orders=orders,
        requested={c: list(orders) for c in CHANNELS},
        sent={c: list(orders) for c in CHANNELS},
        channel_groups={c: group(c) for c in CHANNELS},
        slow=GroupView("lesson12-slow", ["notifications.email"], {"notifications.email": 1}),
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_channel_without_a_request_fails() -> None:
    seen = good()
    seen.requested["sms"] = ["o-1"]
    assert failing(check(seen)) == {"three notifications per order"}


def test_a_request_fanned_out_twice_fails() -> None:
    seen = good()
    seen.requested["push"].append("o-2")
    assert failing(check(seen)) == {"three notifications per order"}


def test_a_notification_delivered_twice_fails() -> None:
    seen = good()
    seen.sent["email"].append("o-1")
    assert failing(check(seen)) == {"each channel delivered each once"}


def test_an_undelivered_notification_fails() -> None:
    seen = good()
    seen.sent["sms"] = []
    assert failing(check(seen)) == {"each channel delivered each once"}


def test_one_group_for_all_channels_fails() -> None:
    seen = good()
    every = {f"notifications.{c}": 0 for c in CHANNELS}
    seen.channel_groups = {
        c: GroupView("kafkalab-notification", sorted(every), every) for c in CHANNELS
    }
    assert failing(check(seen)) == {"one consumer group per channel"}


def test_a_channel_left_behind_fails() -> None:
    seen = good()
    seen.channel_groups["sms"] = group("sms", lag=3)
    assert failing(check(seen)) == {"every channel caught up"}


def test_a_slow_group_holding_back_the_email_worker_fails() -> None:
    seen = good()
    seen.channel_groups["email"] = group("email", lag=1)
    assert "lag is per group" in failing(check(seen))


def test_a_slow_group_without_lag_fails() -> None:
    seen = good()
    seen.slow = GroupView("lesson12-slow", [], {})
    assert failing(check(seen)) == {"lag is per group"}


def test_no_orders_fails() -> None:
    assert not passed(check(Seen(orders=[])))
