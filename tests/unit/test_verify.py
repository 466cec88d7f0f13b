"""The invariant checker's pure core: synthetic events in, a report naming every offender out.

Each story below writes the events the six services would write for one order, with their
causal headers; the tests then break one thing and assert the checker says ✘ and names the
order — and that it stays ✔ for everything it should not flag.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from typing import Any

import pytest

from kafkalab import ui
from kafkalab.events import topics as t
from kafkalab.events.serde import Event
from kafkalab.observe.verify import (
    ANALYTICS_TOTALS,
    KNOWN_CAUSES,
    MAX_EXAMPLES,
    NOTIFICATIONS,
    ONE_PAYMENT,
    REFUNDS,
    STOCK_BALANCED,
    TERMINAL_STATE,
    BadSince,
    VerifyReport,
    evaluate,
    parse_since,
    refund_cases,
    refunds_invariant,
)

ITEMS = [{"sku": "KAFKA-MUG", "quantity": 2, "unit_price_cents": 1250}]
TOTAL = 2500


class Story:
    """A tiny in-memory cluster: events with offsets per (topic, partition) and a clock."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.offsets: Counter[tuple[str, int]] = Counter()
        self.clock = itertools.count(1_700_000_000_000, 7)
        self.request_copies = False

    def emit(
        self,
        topic: str,
        record_type: str,
        value: dict[str, Any],
        cause: Event | None = None,
        service: str = "test",
        partition: int = 0,
    ) -> Event:
        headers = {"event_type": record_type, "service": service, "trace_id": "trace-1"}
        if cause is not None:
            headers["causation_id"] = cause.event_id
        event = Event(
            topic,
            partition,
            self.offsets[(topic, partition)],
            str(value.get("order_id", "")),
            record_type,
            {"event_id": str(uuid.uuid4()), **value},
            headers,
            next(self.clock),
        )
        self.offsets[(topic, partition)] += 1
        self.events.append(event)
        return event

    def change(self, order_id: str, old: str, new: str, cause: Event) -> Event:
        return self.emit(
            t.ORDER_EVENTS,
            "OrderStatusChanged",
            {"order_id": order_id, "user_id": "u1", "from_status": old, "to_status": new},
            cause,
            "order",
        )

    def notify(
        self, order_id: str, change: Event, template: str, channels: tuple[str, ...]
    ) -> None:
        for channel in channels:
            value = {
                "notification_id": f"{change.event_id}/{channel}",
                "order_id": order_id,
                "user_id": "u1",
                "channel": channel,
                "template": template,
            }
            if self.request_copies:  # as notification wrote requests before: twice
                self.emit(t.NOTIFICATIONS, "NotificationRequested", value, change, "notification")
            copy = self.emit(
                t.CHANNEL_TOPICS[channel], "NotificationRequested", value, change, "notification"
            )
            self.sent(order_id, value["notification_id"], channel, copy)

    def sent(self, order_id: str, notification_id: str, channel: str, cause: Event) -> Event:
        value = {
            "notification_id": notification_id,
            "order_id": order_id,
            "user_id": "u1",
            "channel": channel,
        }
        return self.emit(t.NOTIFICATIONS, "NotificationSent", value, cause, "notification")

    def created(self, order_id: str, total: int = TOTAL) -> Event:
        value = {"order_id": order_id, "user_id": "u1", "items": ITEMS, "total_cents": total}
        return self.emit(t.ORDER_EVENTS, "OrderCreated", value, None, "order")

    def reserve(self, order_id: str, cause: Event) -> Event:
        value = {"order_id": order_id, "user_id": "u1", "items": ITEMS, "total_cents": TOTAL}
        return self.emit(t.INVENTORY_EVENTS, "InventoryReserved", value, cause, "inventory")

    def pay(self, order_id: str, cause: Event) -> Event:
        value = {"order_id": order_id, "user_id": "u1", "amount_cents": TOTAL}
        return self.emit(t.PAYMENTS, "PaymentCompleted", value, cause, "payment")

    def stock(self, kind: str, order_id: str, cause: Event | None, items: Any = None) -> Event:
        value = {"order_id": order_id, "user_id": "u1", "items": ITEMS if items is None else items}
        return self.emit(t.INVENTORY_EVENTS, kind, value, cause, "inventory")

    def confirmed(
        self, order_id: str, channels: tuple[str, ...] = ("email", "sms", "push")
    ) -> None:
        created = self.created(order_id)
        reserved = self.reserve(order_id, created)
        self.change(order_id, "CREATED", "RESERVED", reserved)
        payment = self.pay(order_id, reserved)
        self.change(order_id, "RESERVED", "PAID", payment)
        committed = self.stock("StockCommitted", order_id, payment)
        done = self.change(order_id, "PAID", "CONFIRMED", committed)
        self.notify(order_id, done, "order-confirmed", channels)

    def cancelled(self, order_id: str) -> None:
        created = self.created(order_id)
        reserved = self.reserve(order_id, created)
        self.change(order_id, "CREATED", "RESERVED", reserved)
        failed = self.emit(t.PAYMENTS, "PaymentFailed", {"order_id": order_id}, reserved)
        self.change(order_id, "RESERVED", "PAYMENT_FAILED", failed)
        pending = self.change(order_id, "PAYMENT_FAILED", "PENDING_PAYMENT", failed)
        self.notify(order_id, pending, "payment-retry", ("email", "push"))
        expired = self.emit(t.INVENTORY_EVENTS, "ReservationExpired", {"order_id": order_id})
        self.stock("StockReleased", order_id, expired)
        done = self.change(order_id, "PENDING_PAYMENT", "CANCELLED", expired)
        self.notify(order_id, done, "order-cancelled", ("email", "push"))

    def rejected(self, order_id: str) -> None:
        created = self.created(order_id)
        out = self.emit(t.INVENTORY_EVENTS, "OutOfStock", {"order_id": order_id}, created)
        self.change(order_id, "CREATED", "REJECTED", out)

    def analytics(self, orders: int, revenue: int) -> None:
        for metric, value in (("orders_total", orders), ("revenue_total_cents", revenue)):
            record = {"metric": metric, "window": "running", "value": float(value)}
            self.emit(t.ANALYTICS, "AnalyticsWindow", record, None, "analytics")

    def without(self, *kinds: tuple[str, str]) -> list[Event]:
        """The events minus every (topic, type) in `kinds`."""
        return [e for e in self.events if (e.topic, e.type) not in kinds]


def by_name(report: VerifyReport, name: str) -> Any:
    return report.invariant(name)


def assert_only_violated(report: VerifyReport, name: str, order_id: str) -> None:
    inv = report.invariant(name)
    assert inv.ok is False, inv
    assert inv.violations >= 1
    assert any(order_id in example for example in inv.examples), inv.examples
    others = [i for i in report.invariants if i.name != name and i.ok is False]
    assert others == [], others
    assert report.passed is False


# -- clean runs -------------------------------------------------------------------------------


def test_clean_orders_of_every_outcome_pass() -> None:
    story = Story()
    story.confirmed("o-ok")
    story.cancelled("o-cancel")
    story.rejected("o-reject")
    story.analytics(3, 3 * TOTAL)
    report = evaluate(story.events)
    assert [(i.name, i.ok) for i in report.invariants if not i.ok] == []
    assert report.passed is True
    assert report.orders == 3
    assert report.outcomes == {"CONFIRMED": 1, "CANCELLED": 1, "REJECTED": 1}
    assert report.revenue_cents == TOTAL  # only the confirmed order
    assert by_name(report, TERMINAL_STATE).checked == 3
    # CONFIRMED, PENDING_PAYMENT and CANCELLED are notifiable; REJECTED is not
    assert by_name(report, NOTIFICATIONS).checked == 3
    assert by_name(report, KNOWN_CAUSES).checked == len(story.events)


def test_no_events_at_all_passes_vacuously_and_says_so() -> None:
    report = evaluate([])
    assert report.orders == 0
    assert report.passed is True
    assert by_name(report, ANALYTICS_TOTALS).detail.startswith("no orders yet")


def test_the_report_is_json_ready_with_passed_in_it() -> None:
    story = Story()
    story.confirmed("o-1")
    data = ui.to_jsonable(evaluate(story.events))
    assert data["passed"] is True
    assert {i["name"] for i in data["invariants"]} >= {TERMINAL_STATE, ONE_PAYMENT}
    assert set(data["invariants"][0]) == {
        "name",
        "ok",
        "checked",
        "violations",
        "examples",
        "detail",
    }


# -- 1. terminal state ------------------------------------------------------------------------


def test_an_order_still_in_flight_is_named() -> None:
    story = Story()
    story.confirmed("o-ok")
    created = story.created("o-stuck")
    reserved = story.reserve("o-stuck", created)
    story.change("o-stuck", "CREATED", "RESERVED", reserved)
    report = evaluate(story.events)
    inv = by_name(report, TERMINAL_STATE)
    assert (inv.ok, inv.checked, inv.violations) == (False, 2, 1)
    assert inv.examples == ["o-stuck: still in flight (CREATED → RESERVED)"]
    assert report.outcomes["RESERVED"] == 1
    assert report.passed is False


def test_an_order_with_no_status_change_is_in_flight() -> None:
    story = Story()
    story.created("o-new")
    inv = by_name(evaluate(story.events), TERMINAL_STATE)
    assert inv.examples == ["o-new: still in flight (CREATED)"]


def test_an_order_id_that_never_reached_order_events_is_lost() -> None:
    story = Story()
    story.confirmed("o-ok")
    report = evaluate(story.events, order_ids=["o-ok", "o-lost"])
    inv = by_name(report, TERMINAL_STATE)
    assert inv.violations == 1
    assert inv.examples == ["o-lost: no OrderCreated on order-events (lost)"]
    assert report.outcomes == {"CONFIRMED": 1, "MISSING": 1}


def test_two_terminal_states_are_a_violation() -> None:
    story = Story()
    story.confirmed("o-twice")
    last = story.events[-1]
    story.change("o-twice", "CONFIRMED", "CANCELLED", last)
    inv = by_name(evaluate(story.events), TERMINAL_STATE)
    assert inv.ok is False
    assert "o-twice: reached a terminal state 2 times (CONFIRMED, CANCELLED)" in inv.examples


def test_leaving_a_terminal_state_is_a_violation() -> None:
    story = Story()
    story.rejected("o-back")
    story.change("o-back", "REJECTED", "RESERVED", story.events[-1])
    inv = by_name(evaluate(story.events), TERMINAL_STATE)
    assert inv.examples == ["o-back: left REJECTED for RESERVED"]


# -- 2. at most one payment -------------------------------------------------------------------


def test_a_duplicate_payment_is_caught_and_named() -> None:
    story = Story()
    story.confirmed("o-ok")
    story.confirmed("o-double")
    reserved = next(
        e for e in story.events if e.type == "InventoryReserved" and e.key == "o-double"
    )
    story.pay("o-double", reserved)
    report = evaluate(story.events)
    assert_only_violated(report, ONE_PAYMENT, "o-double")
    inv = by_name(report, ONE_PAYMENT)
    assert (inv.checked, inv.violations) == (2, 1)
    assert inv.examples == ["o-double: 2 PaymentCompleted (charged 25.00 + 25.00)"]


def test_payment_failures_and_retries_are_not_payments() -> None:
    story = Story()
    story.cancelled("o-1")
    reserved = next(e for e in story.events if e.type == "InventoryReserved")
    story.emit(t.PAYMENTS, "PaymentFailed", {"order_id": "o-1"}, reserved)
    assert by_name(evaluate(story.events), ONE_PAYMENT).ok is True


# -- 3. stock ---------------------------------------------------------------------------------


def test_a_reservation_never_settled_is_a_stock_violation() -> None:
    story = Story()
    story.confirmed("o-1")
    events = story.without((t.INVENTORY_EVENTS, "StockCommitted"))
    inv = by_name(evaluate(events), STOCK_BALANCED)
    assert inv.ok is False
    assert inv.examples == ["o-1: reserved 2×KAFKA-MUG, committed nothing, released nothing"]


def test_stock_both_committed_and_released_is_a_violation() -> None:
    story = Story()
    story.confirmed("o-1")
    story.stock("StockReleased", "o-1", None)
    report = evaluate(story.events)
    assert_only_violated(report, STOCK_BALANCED, "o-1")
    assert by_name(report, STOCK_BALANCED).examples == [
        "o-1: reserved 2×KAFKA-MUG, committed 2×KAFKA-MUG, released 2×KAFKA-MUG"
    ]


def test_committed_items_that_differ_from_the_reservation_are_a_violation() -> None:
    story = Story()
    created = story.created("o-1")
    reserved = story.reserve("o-1", created)
    story.change("o-1", "CREATED", "RESERVED", reserved)
    payment = story.pay("o-1", reserved)
    story.change("o-1", "RESERVED", "PAID", payment)
    one_mug = [{"sku": "KAFKA-MUG", "quantity": 1, "unit_price_cents": 1250}]
    committed = story.stock("StockCommitted", "o-1", payment, items=one_mug)
    done = story.change("o-1", "PAID", "CONFIRMED", committed)
    story.notify("o-1", done, "order-confirmed", ("email",))
    inv = by_name(evaluate(story.events), STOCK_BALANCED)
    assert inv.examples == ["o-1: reserved 2×KAFKA-MUG, committed 1×KAFKA-MUG, released nothing"]


def test_stock_committed_without_a_reservation_is_a_violation() -> None:
    story = Story()
    story.rejected("o-1")
    story.stock("StockCommitted", "o-1", None)
    inv = by_name(evaluate(story.events), STOCK_BALANCED)
    assert inv.examples == ["o-1: 1 commit/release without a reservation"]


def test_a_double_reservation_is_a_violation() -> None:
    story = Story()
    story.confirmed("o-1")
    story.reserve("o-1", story.events[0])
    inv = by_name(evaluate(story.events), STOCK_BALANCED)
    assert inv.examples == ["o-1: reserved 2 times"]


def test_out_of_stock_with_a_reservation_is_a_violation() -> None:
    story = Story()
    story.cancelled("o-1")
    story.emit(t.INVENTORY_EVENTS, "OutOfStock", {"order_id": "o-1"}, story.events[0])
    inv = by_name(evaluate(story.events), STOCK_BALANCED)
    assert inv.examples == ["o-1: both InventoryReserved and OutOfStock"]


def test_the_payment_retry_copy_of_a_reservation_is_not_a_reservation() -> None:
    story = Story()
    story.confirmed("o-1")
    reserved = next(e for e in story.events if e.type == "InventoryReserved")
    story.emit(t.PAYMENTS_RETRY, "InventoryReserved", dict(reserved.value), reserved)
    assert by_name(evaluate(story.events), STOCK_BALANCED).ok is True


# -- 4. notifications -------------------------------------------------------------------------


def test_a_channel_never_sent_is_named() -> None:
    story = Story()
    story.confirmed("o-1")
    sms = next(
        e for e in story.events if e.type == "NotificationSent" and e.value["channel"] == "sms"
    )
    events = [e for e in story.events if e is not sms]
    report = evaluate(events)
    assert_only_violated(report, NOTIFICATIONS, "o-1")
    assert by_name(report, NOTIFICATIONS).examples == ["o-1: order-confirmed: sms sent 0 times"]


def test_a_notification_sent_twice_is_named() -> None:
    story = Story()
    story.cancelled("o-1")
    first = next(e for e in story.events if e.type == "NotificationSent")
    story.sent("o-1", first.value["notification_id"], first.value["channel"], first)
    inv = by_name(evaluate(story.events), NOTIFICATIONS)
    assert inv.examples == ["o-1: payment-retry: email sent 2 times"]
    assert (inv.checked, inv.violations) == (2, 1)  # PENDING_PAYMENT and CANCELLED


def test_a_notifiable_transition_with_nothing_requested_is_named() -> None:
    story = Story()
    story.confirmed("o-1")
    events = story.without(
        *((topic, "NotificationRequested") for topic in t.CHANNEL_TOPICS.values()),
        (t.NOTIFICATIONS, "NotificationSent"),
    )
    inv = by_name(evaluate(events), NOTIFICATIONS)
    assert inv.examples == ["o-1: order-confirmed: nothing requested"]


def test_requests_are_read_from_the_channel_topics_and_an_old_copy_counts_once() -> None:
    """notification writes a request once, on its channel's topic; records from before that
    also hold a copy on `notifications` with the same id, which is no second request."""
    story = Story()
    story.request_copies = True
    story.confirmed("o-1")
    copies = [
        e for e in story.events if (e.topic, e.type) == (t.NOTIFICATIONS, "NotificationRequested")
    ]
    assert len(copies) == 3
    assert by_name(evaluate(story.events), NOTIFICATIONS).ok is True


def test_a_user_without_a_phone_needs_no_sms() -> None:
    story = Story()
    story.confirmed("o-1", channels=("email", "push"))
    assert by_name(evaluate(story.events), NOTIFICATIONS).ok is True


def prefer(story: Story, *off: str, user_id: str = "u1") -> Event:
    """The user service's UserPreferencesUpdated: every channel on but `off`."""
    channels = {c: c not in off for c in ("email", "sms", "push")}
    value = {"user_id": user_id, "preferences": {"channels": channels, "language": "en"}}
    return story.emit(t.USER_EVENTS, "UserPreferencesUpdated", value, None, "user")


def test_only_opted_in_channels_count() -> None:
    story = Story()
    prefer(story, "sms")
    story.confirmed("o-1", channels=("email", "push"))
    inv = by_name(evaluate(story.events), NOTIFICATIONS)
    assert (inv.ok, inv.checked) == (True, 1)
    assert "opted-in" in inv.detail


def test_a_channel_requested_after_the_user_opted_out_is_named() -> None:
    story = Story()
    prefer(story, "sms")
    story.confirmed("o-1")  # notification ignored the choice: sms requested and sent
    assert_only_violated(evaluate(story.events), NOTIFICATIONS, "o-1")
    inv = by_name(evaluate(story.events), NOTIFICATIONS)
    assert inv.examples == ["o-1: order-confirmed: sms requested though the user opted out"]


def test_another_user_s_choice_or_a_later_one_does_not_count() -> None:
    story = Story()
    prefer(story, "sms", user_id="someone-else")
    story.confirmed("o-1")
    prefer(story, "sms")  # after the notifications: the next order's business
    assert by_name(evaluate(story.events), NOTIFICATIONS).ok is True


def test_a_choice_changed_while_the_order_was_in_flight_is_not_judged() -> None:
    story = Story()
    prefer(story, "sms")
    created = story.created("o-1")
    prefer(story)  # sms back on before the confirmation: either outcome is right
    reserved = story.reserve("o-1", created)
    story.change("o-1", "CREATED", "RESERVED", reserved)
    payment = story.pay("o-1", reserved)
    story.change("o-1", "RESERVED", "PAID", payment)
    committed = story.stock("StockCommitted", "o-1", payment)
    done = story.change("o-1", "PAID", "CONFIRMED", committed)
    story.notify("o-1", done, "order-confirmed", ("email", "sms", "push"))
    assert by_name(evaluate(story.events), NOTIFICATIONS).ok is True


def test_a_user_who_turned_every_channel_off_is_sent_nothing() -> None:
    story = Story()
    prefer(story, "email", "sms", "push")
    story.confirmed("o-1", channels=())
    assert by_name(evaluate(story.events), NOTIFICATIONS).ok is True


def test_a_send_nobody_requested_is_an_extra_message() -> None:
    story = Story()
    story.confirmed("o-1")
    story.sent("o-1", "made-up", "email", story.events[0])
    inv = by_name(evaluate(story.events), NOTIFICATIONS)
    assert inv.examples == ["o-1: 1 NotificationSent never requested"]


def test_the_wrong_template_is_named() -> None:
    story = Story()
    created = story.created("o-1")
    out = story.emit(t.INVENTORY_EVENTS, "OutOfStock", {"order_id": "o-1"}, created)
    story.change("o-1", "CREATED", "REJECTED", out)
    story.confirmed("o-2")
    for event in story.events:
        if event.type == "NotificationRequested":
            event.value["template"] = "order-cancelled"
    inv = by_name(evaluate(story.events), NOTIFICATIONS)
    assert inv.examples == ["o-2: order-confirmed: requested as order-cancelled"]


# -- 5. causes --------------------------------------------------------------------------------


def test_an_event_whose_cause_is_nowhere_is_named() -> None:
    story = Story()
    story.confirmed("o-1")
    ghost = Event("x", 0, 0, None, "Ghost", {"event_id": "not-on-any-topic"})
    story.pay("o-1", ghost)
    report = evaluate(story.events)
    inv = by_name(report, KNOWN_CAUSES)
    assert inv.ok is False and inv.violations == 1
    [example] = inv.examples
    assert example.startswith("o-1: PaymentCompleted at payments[0]@1 names cause not-on-any-topic")


def test_roots_and_causes_on_copy_topics_are_known() -> None:
    story = Story()
    story.confirmed("o-1")  # NotificationSent's cause is the copy on a channel topic
    story.emit(t.USER_EVENTS, "UserLoggedIn", {"user_id": "u1"})  # a root
    assert by_name(evaluate(story.events), KNOWN_CAUSES).ok is True


def test_with_order_ids_only_their_events_are_judged_for_causes() -> None:
    story = Story()
    story.confirmed("o-mine")
    ghost = Event("x", 0, 0, None, "Ghost", {"event_id": "elsewhere"})
    story.emit(t.ORDER_EVENTS, "OrderCreated", {"order_id": "o-other"}, ghost)
    assert by_name(evaluate(story.events, order_ids=["o-mine"]), KNOWN_CAUSES).ok is True
    assert by_name(evaluate(story.events), KNOWN_CAUSES).ok is False


# -- 6. analytics -----------------------------------------------------------------------------


def test_analytics_totals_that_match_pass() -> None:
    story = Story()
    story.confirmed("o-1")
    story.rejected("o-2")
    story.analytics(1, TOTAL)  # an older update…
    story.analytics(2, 2 * TOTAL)  # …and the latest
    inv = by_name(evaluate(story.events), ANALYTICS_TOTALS)
    assert (inv.ok, inv.checked) == (True, 2)


def test_analytics_totals_that_lag_or_overcount_are_named() -> None:
    story = Story()
    story.confirmed("o-1")
    story.confirmed("o-2")
    story.analytics(3, 2 * TOTAL)
    inv = by_name(evaluate(story.events), ANALYTICS_TOTALS)
    assert inv.ok is False
    assert inv.examples == ["orders_total: analytics says 3, topics say 2"]
    assert inv.surplus == 1  # over-counting is all that is wrong: one order counted twice


def test_analytics_totals_short_of_the_orders_have_no_surplus() -> None:
    story = Story()
    story.confirmed("o-1")
    story.confirmed("o-2")
    story.analytics(1, 2 * TOTAL)  # one order missing from the count, revenue right
    inv = by_name(evaluate(story.events), ANALYTICS_TOTALS)
    assert inv.ok is False
    assert inv.surplus == 0
    story.analytics(3, TOTAL)  # one order too many, but revenue short: not a replay
    assert by_name(evaluate(story.events), ANALYTICS_TOTALS).surplus == 0


def test_a_duplicate_order_created_counts_once() -> None:
    story = Story()
    story.confirmed("o-1")
    story.created("o-1")
    story.analytics(1, TOTAL)
    assert by_name(evaluate(story.events), ANALYTICS_TOTALS).ok is True


def test_no_analytics_results_are_reported_not_passed_silently() -> None:
    story = Story()
    story.confirmed("o-1")
    report = evaluate(story.events)
    inv = by_name(report, ANALYTICS_TOTALS)
    assert inv.ok is None
    assert "no running totals" in inv.detail and "analytics service" in inv.detail
    assert report.passed is True  # `!` is not ✘: the other invariants decide


def test_analytics_counts_every_order_ever_even_with_since() -> None:
    story = Story()
    story.confirmed("o-old")
    since = next(story.clock)
    story.confirmed("o-new")
    story.analytics(2, 2 * TOTAL)
    report = evaluate(story.events, since_ms=since)
    assert report.orders == 1
    assert by_name(report, ANALYTICS_TOTALS).ok is True


# -- scope and examples -----------------------------------------------------------------------


def test_since_judges_only_orders_created_since() -> None:
    story = Story()
    story.created("o-old-stuck")
    since = next(story.clock)
    story.confirmed("o-new")
    report = evaluate(story.events, since_ms=since)
    assert report.orders == 1
    assert by_name(report, TERMINAL_STATE).ok is True


def test_order_ids_judge_exactly_those_orders() -> None:
    story = Story()
    story.created("o-other-stuck")
    story.confirmed("o-mine")
    report = evaluate(story.events, order_ids=["o-mine"])
    assert report.orders == 1
    assert by_name(report, TERMINAL_STATE).ok is True


def test_examples_stop_at_five_but_every_violation_counts() -> None:
    story = Story()
    for i in range(MAX_EXAMPLES + 3):
        story.created(f"o-{i}")
    inv = by_name(evaluate(story.events), TERMINAL_STATE)
    assert inv.violations == MAX_EXAMPLES + 3
    assert len(inv.examples) == MAX_EXAMPLES


# -- --since ----------------------------------------------------------------------------------

NOW = 1_750_000_000_000


@pytest.mark.parametrize(
    ("text", "ago_ms"),
    [
        ("10m", 600_000),
        ("90s", 90_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("500ms", 500),
        ("1.5m", 90_000),
        (" 3 M ", 180_000),
    ],
)
def test_durations(text: str, ago_ms: int) -> None:
    assert parse_since(text, NOW) == NOW - ago_ms


def test_iso_times_with_and_without_zone() -> None:
    assert parse_since("2025-06-15T15:06:40+00:00", NOW) == NOW
    assert parse_since("2025-06-15T15:06:40Z", NOW) == NOW
    naive = parse_since("2025-06-15T15:06:40", NOW)
    assert abs(naive - NOW) <= 14 * 3_600_000  # local time: within a time zone of UTC


@pytest.mark.parametrize("text", ["10x", "yesterday", "", "-5m", "2025-13-01"])
def test_bad_since_is_one_sentence_with_an_example(text: str) -> None:
    with pytest.raises(BadSince) as caught:
        parse_since(text, NOW)
    assert "neither a duration nor an ISO time" in caught.value.message
    assert "10m" in caught.value.hint


# -- the refund rule (lesson 22's capstone) ---------------------------------------------------


def _refund_story(refunds: dict[str, list[int]]) -> list[Event]:
    """o-paid: paid 1250 and cancelled; o-unpaid: cancelled after a failed payment;
    o-kept: paid and confirmed; plus the RefundIssued records given per order."""
    story = Story()
    story.emit(t.PAYMENTS, "PaymentCompleted", {"order_id": "o-paid", "amount_cents": 1250})
    story.emit(t.PAYMENTS, "PaymentFailed", {"order_id": "o-unpaid", "amount_cents": 900})
    story.emit(t.PAYMENTS, "PaymentCompleted", {"order_id": "o-kept", "amount_cents": 700})
    for oid, end in (("o-paid", "CANCELLED"), ("o-unpaid", "CANCELLED"), ("o-kept", "CONFIRMED")):
        value = {"order_id": oid, "from_status": "X", "to_status": end}
        story.emit(t.ORDER_EVENTS, "OrderStatusChanged", value)
    for oid, amounts in refunds.items():
        for amount in amounts:
            story.emit("refunds", "RefundIssued", {"order_id": oid, "amount_cents": amount})
    return story.events


def _refunds(refunds: dict[str, list[int]]) -> Any:
    cases = refund_cases(_refund_story(refunds), t.ORDER_EVENTS, t.PAYMENTS, "refunds")
    return refunds_invariant(cases.values())


def test_one_refund_of_the_payment_per_paid_cancelled_order_passes() -> None:
    verdict_ = _refunds({"o-paid": [1250]})
    assert verdict_.name == REFUNDS and verdict_.ok and verdict_.checked == 3


@pytest.mark.parametrize(
    ("refunds", "example"),
    [
        ({}, "o-paid: paid 12.50 and cancelled, refunded 0 times"),
        ({"o-paid": [1250, 1250]}, "o-paid: paid 12.50 and cancelled, refunded 2 times"),
        ({"o-paid": [1250], "o-unpaid": [900]}, "o-unpaid: refunded 1 time(s), but never paid"),
        ({"o-paid": [1250], "o-kept": [700]}, "o-kept: refunded 1 time(s), but not cancelled"),
        ({"o-paid": [125]}, "o-paid: refunded 1.25 of a 12.50 payment"),
    ],
)
def test_each_wrong_refund_is_named(refunds: dict[str, list[int]], example: str) -> None:
    verdict_ = _refunds(refunds)
    assert verdict_.ok is False and verdict_.violations == 1
    assert verdict_.examples == [example]


# -- a customer's cancel after payment (kafkalab load --cancel-paid) --------------------------


def customer_cancel(story: Story, order_id: str, reason: str = "customer_cancelled") -> Event:
    """The confirmed order's customer cancels it: the change, inventory's return of the sold
    stock, and the order-cancelled notifications."""
    value = {
        "order_id": order_id,
        "user_id": "u1",
        "from_status": "CONFIRMED",
        "to_status": "CANCELLED",
        "reason": reason,
    }
    change = story.emit(t.ORDER_EVENTS, "OrderStatusChanged", value, None, "order")
    story.notify(order_id, change, "order-cancelled", ("email", "sms", "push"))
    return change


def test_a_customer_cancel_after_confirmation_with_its_stock_returned_passes() -> None:
    story = Story()
    story.confirmed("o-back")
    change = customer_cancel(story, "o-back")
    story.stock("StockReturned", "o-back", change)
    story.analytics(1, TOTAL)
    report = evaluate(story.events)
    assert [(i.name, i.examples) for i in report.invariants if not i.ok] == []
    assert report.outcomes == {"CANCELLED": 1}
    assert REFUNDS not in {i.name for i in report.invariants}  # no refund service: not judged


def test_a_cancel_after_confirmation_for_another_reason_is_still_two_terminal_states() -> None:
    story = Story()
    story.confirmed("o-twice")
    change = customer_cancel(story, "o-twice", reason="StockCommitted")
    story.stock("StockReturned", "o-twice", change)
    story.analytics(1, TOTAL)
    report = evaluate(story.events)
    assert by_name(report, TERMINAL_STATE).examples == [
        "o-twice: reached a terminal state 2 times (CONFIRMED, CANCELLED)"
    ]
    # …and what it returned, nobody asked for: the stock rule names it as well.
    assert by_name(report, STOCK_BALANCED).examples == [
        "o-twice: returned 2×KAFKA-MUG, but its customer never cancelled it"
    ]


@pytest.mark.parametrize(
    ("returns", "example"),
    [
        (0, "o-back: cancelled by its customer: sold 2×KAFKA-MUG, returned nothing (0 times)"),
        (2, "o-back: cancelled by its customer: sold 2×KAFKA-MUG, returned 4×KAFKA-MUG (2 times)"),
    ],
)
def test_a_customer_cancel_returns_the_sold_stock_exactly_once(returns: int, example: str) -> None:
    story = Story()
    story.confirmed("o-back")
    change = customer_cancel(story, "o-back")
    for _ in range(returns):
        story.stock("StockReturned", "o-back", change)
    story.analytics(1, TOTAL)
    assert_only_violated(evaluate(story.events), STOCK_BALANCED, "o-back")
    assert by_name(evaluate(story.events), STOCK_BALANCED).examples == [example]


def test_a_return_of_other_items_is_named() -> None:
    story = Story()
    story.confirmed("o-back")
    change = customer_cancel(story, "o-back")
    story.stock("StockReturned", "o-back", change, items=[{"sku": "SKU-BOOK", "quantity": 1}])
    story.analytics(1, TOTAL)
    assert_only_violated(evaluate(story.events), STOCK_BALANCED, "o-back")


def test_returning_stock_of_an_order_nobody_cancelled_is_named() -> None:
    story = Story()
    story.confirmed("o-kept")
    story.stock("StockReturned", "o-kept", story.events[-1])
    story.analytics(1, TOTAL)
    assert_only_violated(evaluate(story.events), STOCK_BALANCED, "o-kept")


def refund(story: Story, order_id: str, amount: int = TOTAL) -> None:
    story.emit(t.REFUNDS, "RefundIssued", {"order_id": order_id, "amount_cents": amount})


def test_the_platform_check_judges_refunds_once_a_refund_is_on_the_topic() -> None:
    story = Story()
    story.confirmed("o-back")
    story.stock("StockReturned", "o-back", customer_cancel(story, "o-back"))
    story.confirmed("o-kept")
    story.cancelled("o-unpaid")
    refund(story, "o-back")
    story.analytics(3, 3 * TOTAL)
    report = evaluate(story.events)
    assert report.passed, [(i.name, i.examples) for i in report.invariants if not i.ok]
    assert by_name(report, REFUNDS).checked == 3  # paid and cancelled, paid, cancelled


def test_a_refund_service_that_refunds_twice_fails_the_platform_check() -> None:
    story = Story()
    story.confirmed("o-back")
    story.stock("StockReturned", "o-back", customer_cancel(story, "o-back"))
    refund(story, "o-back")
    refund(story, "o-back")  # a restart that refunded a batch already refunded
    story.analytics(1, TOTAL)
    report = evaluate(story.events)
    assert_only_violated(report, REFUNDS, "o-back")
    assert by_name(report, REFUNDS).examples == [
        f"o-back: paid {TOTAL / 100:.2f} and cancelled, refunded 2 times"
    ]


def test_a_refund_service_that_refunds_nothing_fails_when_the_caller_says_one_runs() -> None:
    story = Story()
    story.confirmed("o-back")
    story.stock("StockReturned", "o-back", customer_cancel(story, "o-back"))
    story.analytics(1, TOTAL)
    assert REFUNDS not in {i.name for i in evaluate(story.events).invariants}
    assert_only_violated(evaluate(story.events, refunds=True), REFUNDS, "o-back")


def test_refunds_of_orders_outside_the_window_are_not_judged() -> None:
    story = Story()
    story.confirmed("o-old")
    refund(story, "o-old")
    refund(story, "o-old")
    since = story.events[-1].timestamp_ms + 1
    story.confirmed("o-new")
    story.analytics(2, 2 * TOTAL)
    report = evaluate(story.events, since_ms=since)
    assert REFUNDS not in {i.name for i in report.invariants}
