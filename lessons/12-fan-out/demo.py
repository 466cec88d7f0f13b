"""Lesson 12: one confirmed order → email, sms and push, each channel its own consumer group."""

from __future__ import annotations

import threading
import time
import uuid

import httpx

from kafkalab.catalogue.services import group_id
from kafkalab.curriculum.lab import Lab, LessonSetupFailed
from kafkalab.events.serde import Event
from kafkalab.events.topics import CHANNEL_TOPICS, NOTIFICATIONS, NOTIFICATIONS_EMAIL
from kafkalab.load.shop import top_up_stock, url
from kafkalab.observe.lag import group_lag
from kafkalab.services.tables import TopicTable

from .check import CHANNELS, GroupView, Seen

ORDERS = 3
PHONE = "+44 7700 900555"  # a user without a phone would get email and push only
WAIT = 90.0  # seconds for the platform to confirm and notify (generous: 2 loaded cores)


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    channel_groups = {c: f"{group_id('notification')}-{c}" for c in CHANNELS}
    lab.table(
        "notification's channel workers",
        ["channel", "topic", "consumer group"],
        [[c, CHANNEL_TOPICS[c], channel_groups[c]] for c in CHANNELS],
    )
    # Watch the channel topics and `notifications` from their current ends: only what this run
    # causes is read (the platform may be shared with other lessons).
    seen_events: list[Event] = []
    lock = threading.Lock()

    def collect(event: Event) -> None:
        with lock:
            seen_events.append(event)

    watch = TopicTable(lab.conn, [*CHANNEL_TOPICS.values(), NOTIFICATIONS], collect)
    starts = [tp for topic in watch.topics for tp in watch.ends(topic)]
    watch.start(starts)

    lab.say(f"Registering a customer with email and phone, then placing {ORDERS} orders.")
    run = uuid.uuid4().hex[:8]
    email, password = f"fan.out.{run}@example.com", f"fan-out-{run}"
    orders: list[str] = []
    with httpx.Client(timeout=30) as http:
        top_up_stock(lab.settings, http, {"SKU-STICKER": ORDERS})
        user = {"email": email, "name": "Fan Out", "password": password, "phone": PHONE}
        _post(lab, http, "user", "/users", {**user, "balance_cents": 10**7})
        token = _post(lab, http, "user", "/login", {"email": email, "password": password})
        for _ in range(ORDERS):
            body = {"items": [{"sku": "SKU-STICKER", "quantity": 1}], "card_number": "4242" * 4}
            orders.append(_post(lab, http, "order", "/orders", body, token["token"])["order_id"])

    # Reserved → paid → CONFIRMED; then notification writes one request per channel topic, and
    # each channel's group reads its topic at its own pace and writes NotificationSent.
    lab.say("Waiting for each order's OrderConfirmed to fan out and be delivered on 3 channels.")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and len(_mine(seen_events, lock, orders, "Sent")) < (
        ORDERS * len(CHANNELS)
    ):
        time.sleep(0.2)

    # A fourth subscriber of the email topic — say an archive that is down after one record.
    # Its own group.id gives it its own offsets: it commits one record and stops.
    slow = lab.group("slow-email-archive")
    archive = lab.consumer(slow, **{"enable.auto.commit": False})
    try:
        archive.assign([tp for tp in starts if tp.topic == NOTIFICATIONS_EMAIL])
        while time.monotonic() < deadline:
            message = archive.poll(1)
            if message is not None and not message.error():
                archive.commit(message=message, asynchronous=False)  # one record, then nothing
                break
    finally:
        archive.close()
        watch.stop()

    # The workers commit after NotificationSent is flushed: wait for their lag to reach 0.
    views = _views(lab, [*channel_groups.values(), slow])
    while time.monotonic() < deadline and any(
        sum(views[g].lag.values()) for g in channel_groups.values()
    ):
        time.sleep(0.5)
        views = _views(lab, [*channel_groups.values(), slow])
    lab.table(
        "consumer groups after the fan-out",
        ["group", "committed on", "lag"],
        [[v.group, ", ".join(v.topics), sum(v.lag.values())] for v in views.values()],
    )

    requested = _mine(seen_events, lock, orders, "Requested")
    sent = _mine(seen_events, lock, orders, "Sent")
    lab.table(
        "notifications of this run",
        ["order", "channel", "to", "delivered"],
        [
            [
                e.value["order_id"][:8],
                e.value["channel"],
                e.value["recipient_masked"],
                any(s.value["notification_id"] == e.value["notification_id"] for s in sent),
            ]
            for e in requested
        ],
    )
    return Seen(
        orders=orders,
        requested={
            c: [e.value["order_id"] for e in requested if e.value["channel"] == c] for c in CHANNELS
        },
        sent={c: [e.value["order_id"] for e in sent if e.value["channel"] == c] for c in CHANNELS},
        channel_groups={c: views[g] for c, g in channel_groups.items()},
        slow=views[slow],
    )


def _mine(events: list[Event], lock: threading.Lock, orders: list[str], kind: str) -> list[Event]:
    """NotificationRequested read from a channel topic, or NotificationSent, of these orders."""
    with lock:
        return [
            e
            for e in events
            if e.type == f"Notification{kind}"
            and e.value.get("order_id") in orders
            and (kind == "Sent" or e.topic != NOTIFICATIONS)
        ]


def _views(lab: Lab, groups: list[str]) -> dict[str, GroupView]:
    views = {}
    for lag in group_lag(lab.conn, groups):
        per_topic: dict[str, int] = {}
        for p in lag.partitions:
            per_topic[p.topic] = per_topic.get(p.topic, 0) + p.lag
        views[lag.group] = GroupView(lag.group, sorted(per_topic), per_topic)
    return views


def _post(
    lab: Lab, http: httpx.Client, service: str, path: str, body: object, token: str = ""
) -> dict[str, str]:
    """POST to a service's public API; an answer other than 2xx is one sentence, not a trace."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = http.post(url(lab.settings, service, path), json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise LessonSetupFailed(f"POST {path} to {service} failed: {exc}") from exc
    if not answer.is_success:
        raise LessonSetupFailed(f"POST {path} answered {answer.status_code}: {answer.text[:150]}")
    result: dict[str, str] = answer.json()
    return result
