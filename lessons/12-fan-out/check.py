"""Lesson 12's check: each order became one notification per channel, each delivered once, and
each channel's consumer group kept offsets and lag of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, expect

CHANNELS = ("email", "sms", "push")


@dataclass
class GroupView:
    """One consumer group as the broker describes it: where it committed, and its lag there."""

    group: str
    topics: list[str]  # topics the group has committed offsets on
    lag: dict[str, int]  # topic → lag summed over its partitions


@dataclass
class Seen:
    orders: list[str]  # the orders the demo placed (all confirmed)
    requested: dict[str, list[str]] = field(default_factory=dict)  # channel → order ids
    sent: dict[str, list[str]] = field(
        default_factory=dict
    )  # channel → order ids (NotificationSent)
    channel_groups: dict[str, GroupView] = field(default_factory=dict)  # channel → its group
    slow: GroupView | None = None  # the demo's own slow reader of the email topic


def _per_order_problems(orders: list[str], by_channel: dict[str, list[str]]) -> list[str]:
    """`order/channel ×n` for every (order, channel) not seen exactly once."""
    problems = []
    for order_id in orders:
        for channel in CHANNELS:
            count = by_channel.get(channel, []).count(order_id)
            if count != 1:
                problems.append(f"{order_id[:8]}/{channel} ×{count}")
    return problems


def check(seen: Seen) -> list[Check]:
    requested = _per_order_problems(seen.orders, seen.requested)
    sent = _per_order_problems(seen.orders, seen.sent)
    wrong_topics = [
        f"{channel}: {', '.join(view.topics) if view else 'no group'}"
        for channel in CHANNELS
        if (view := seen.channel_groups.get(channel)) is None
        or view.topics != [f"notifications.{channel}"]
    ]
    lags = {c: sum(v.lag.values()) for c, v in seen.channel_groups.items()}
    email = seen.channel_groups.get("email")
    slow_lag = seen.slow.lag.get("notifications.email", 0) if seen.slow else 0
    email_lag = email.lag.get("notifications.email", -1) if email else -1
    return [
        expect(
            "three notifications per order",
            bool(seen.orders) and not requested,
            f"{len(seen.orders)} orders × {len(CHANNELS)} channel topics"
            if not requested
            else f"not exactly once: {', '.join(requested)}",
        ),
        expect(
            "each channel delivered each once",
            bool(seen.orders) and not sent,
            f"{len(seen.orders) * len(CHANNELS)} NotificationSent, one per order and channel"
            if not sent
            else f"not exactly once: {', '.join(sent)}",
        ),
        expect(
            "one consumer group per channel",
            not wrong_topics,
            "each channel's group commits on its own topic only"
            if not wrong_topics
            else f"groups on other topics: {'; '.join(wrong_topics)}",
        ),
        expect(
            "every channel caught up",
            len(lags) == len(CHANNELS) and not any(lags.values()),
            ", ".join(f"{c} lag {lag}" for c, lag in sorted(lags.items())) or "no channel groups",
        ),
        expect(
            "lag is per group",
            slow_lag > 0 and email_lag == 0,
            f"on notifications.email: the slow group lags {slow_lag}, the email worker {email_lag}",
        ),
    ]
