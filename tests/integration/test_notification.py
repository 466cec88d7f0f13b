"""The notification service on the real broker: enrichment, fan-out, idempotent channel workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Message,
    TopicPartition,
)

from kafkalab import clients, localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde
from kafkalab.events.topics import CHANNEL_TOPICS, NOTIFICATIONS, ORDER_EVENTS, USERS
from kafkalab.services.notification.messages import notification_id
from kafkalab.services.notification.service import NotificationService
from kafkalab.settings import Settings
from tests.integration.services import ensure_topics, publish, read_events, read_raw, running

pytestmark = pytest.mark.integration

EMAIL_DOMAIN = "example.com"
PHONE_TAIL = "901234"


@pytest.fixture(scope="class")
def service(conn: Connection, cluster: Settings) -> Iterator[NotificationService]:
    ensure_topics(conn)
    with running(NotificationService, cluster, conn) as svc:
        yield svc


def register(
    conn: Connection, service: NotificationService, user_id: str, **extra: Any
) -> dict[str, Any]:
    """Publish a UserProfile on `users` and wait until the service's table holds it."""
    profile = {
        "user_id": user_id,
        "email": f"{user_id}@{EMAIL_DOMAIN}",
        "name": "Ada Lovelace",
        "phone": f"+44 7700 {PHONE_TAIL}",
        "balance_cents": 10_000,
        "registered_at": 1_700_000_000_000,
        **extra,
    }
    publish(conn, USERS, user_id, "UserProfile", profile, service="user")
    until(lambda: service.profiles.get(user_id) is not None)
    return profile


def status_changed(order_id: str, user_id: str, frm: str, to: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "user_id": user_id,
        "from_status": frm,
        "to_status": to,
        "reason": None,
    }


@dataclass(frozen=True)
class Recorded:
    """One encoded order event that a test can write again, byte for byte (same event_id):
    what a producer retry or a consumer redelivery looks like to the next service."""

    key: str
    data: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, conn: Connection, key: str, record_type: str, value: dict) -> Recorded:
        serde = EventSerde(conn)
        full, headers = serde.envelope(record_type, value, "order")
        return cls(key, serde.serialize(ORDER_EVENTS, record_type, full), headers)

    def write(self, conn: Connection, copies: int = 1) -> None:
        producer = clients.producer(conn)
        for _ in range(copies):
            producer.produce(
                ORDER_EVENTS, key=self.key.encode(), value=self.data, headers=self.headers
            )
        assert producer.flush(10) == 0


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for `condition` (an event we know is coming), failing if it never happens."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.05)


def raw_to_end(conn: Connection, *topics: str) -> list[Message]:
    """Every record of `topics` up to their current end — a complete view, so a test can count
    ("exactly three") instead of waiting for a number to show up. No group: assign + EOF."""
    consumer = clients.consumer(
        conn, "unused", **{"enable.partition.eof": True, "fetch.wait.max.ms": 50}
    )
    metadata = consumer.list_topics(timeout=10)
    assignment = [
        TopicPartition(t, p, OFFSET_BEGINNING)
        for t in topics
        for p in metadata.topics[t].partitions
    ]
    consumer.assign(assignment)
    pending, out = {(tp.topic, tp.partition) for tp in assignment}, []
    try:
        while pending:
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        pending.discard((msg.topic(), msg.partition()))
                    continue
                out.append(msg)
    finally:
        consumer.close()
    return out


def read_to_end(conn: Connection, *topics: str, where: Callable[[Event], bool]) -> list[Event]:
    """The decoded records of `topics`, up to their current end, that satisfy `where`."""
    serde = EventSerde(conn)
    return [e for e in map(serde.decode, raw_to_end(conn, *topics)) if where(e)]


def committed(conn: Connection, group: str, event: Event) -> int:
    """The offset `group` has committed on the partition of `event` (-1: none yet)."""
    admin = clients.admin(conn)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(event.topic, event.partition)])
    [future] = admin.list_consumer_group_offsets([request]).values()
    [found] = future.result(10).topic_partitions
    return int(found.offset)


def of_order(order_id: str, record_type: str) -> Callable[[Event], bool]:
    return lambda e: e.type == record_type and e.value.get("order_id") == order_id


class TestOneRunningService:
    """Fan-out and delivery through one service instance shared by these tests."""

    def test_confirmed_order_fans_out_to_three_channels_and_each_is_sent(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        user_id, order_id = unique("user"), unique("order")
        profile = register(conn, service, user_id)
        # Ignored first (same key → same partition → handled before the CONFIRMED below).
        publish(
            conn,
            ORDER_EVENTS,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "CREATED", "RESERVED"),
            service="order",
        )
        cause = publish(
            conn,
            ORDER_EVENTS,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "PAID", "CONFIRMED"),
            service="order",
        )

        sent = read_events(conn, NOTIFICATIONS, 3, where=of_order(order_id, "NotificationSent"))
        assert sorted(e.value["channel"] for e in sent) == ["email", "push", "sms"]

        requested = read_to_end(
            conn, *CHANNEL_TOPICS.values(), where=of_order(order_id, "NotificationRequested")
        )
        assert len(requested) == 3  # exactly one per channel, nothing for RESERVED
        # Written once: no copy on `notifications`, which holds what was sent.
        assert not read_to_end(
            conn, NOTIFICATIONS, where=of_order(order_id, "NotificationRequested")
        )
        by_channel = {e.value["channel"]: e for e in requested}
        assert by_channel["email"].value["recipient_masked"] == f"{user_id[0]}***@{EMAIL_DOMAIN}"
        assert by_channel["sms"].value["recipient_masked"] == "+44 ******1234"
        assert by_channel["push"].value["recipient_masked"] == f"user:{user_id}"
        for channel, event in by_channel.items():
            assert event.value["template"] == "order-confirmed"
            assert event.value["user_name"] == profile["name"]
            assert event.value["notification_id"] == notification_id(cause["event_id"], channel)
            assert event.causation_id == cause["event_id"] and event.service == "notification"
            assert event.key == user_id
        assert {e.value["notification_id"] for e in sent} == {
            e.value["notification_id"] for e in requested
        }

        serde = EventSerde(conn)
        mine = [
            m for m in raw_to_end(conn, *CHANNEL_TOPICS.values()) if m.key() == user_id.encode()
        ]
        assert sorted(m.topic() for m in mine) == sorted(CHANNEL_TOPICS.values())  # one each
        for raw in mine:
            event = serde.decode(raw)
            assert event.type == "NotificationRequested" and event.value["order_id"] == order_id
            assert raw.topic() == CHANNEL_TOPICS[event.value["channel"]]
            assert (
                event.value["notification_id"]
                == by_channel[event.value["channel"]].value["notification_id"]
            )
            # PII: the raw bytes on a channel topic hold neither the email nor the phone number.
            assert profile["email"].encode() not in raw.value()
            assert PHONE_TAIL.encode() not in raw.value() and b"7700" not in raw.value()

    def test_a_channel_the_user_opted_out_of_gets_nothing(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        user_id, order_id = unique("user"), unique("order")
        preferences = {
            "channels": {"email": True, "sms": False, "push": True},
            "language": "en",
            "marketing_consent": False,
        }
        register(conn, service, user_id, preferences=preferences)
        profile = service.profiles.get(user_id)
        assert profile is not None and profile.opted_out == {"sms"}
        publish(
            conn,
            ORDER_EVENTS,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "PAID", "CONFIRMED"),
            service="order",
        )
        sent = read_events(conn, NOTIFICATIONS, 2, where=of_order(order_id, "NotificationSent"))
        assert sorted(e.value["channel"] for e in sent) == ["email", "push"]
        # The event's offset is committed only after its whole fan-out was flushed: from then
        # on the topics hold everything it will ever request.
        [changed] = read_to_end(conn, ORDER_EVENTS, where=of_order(order_id, "OrderStatusChanged"))
        until(lambda: committed(conn, service.group_id, changed) > changed.offset)

        requested = read_to_end(
            conn, *CHANNEL_TOPICS.values(), where=of_order(order_id, "NotificationRequested")
        )
        assert sorted(e.value["channel"] for e in requested) == ["email", "push"]
        mine = [
            m for m in raw_to_end(conn, *CHANNEL_TOPICS.values()) if m.key() == user_id.encode()
        ]
        assert sorted(m.topic() for m in mine) == ["notifications.email", "notifications.push"]
        sent = read_to_end(conn, NOTIFICATIONS, where=of_order(order_id, "NotificationSent"))
        assert sorted(e.value["channel"] for e in sent) == ["email", "push"]  # and no third

    def test_a_redelivered_event_is_sent_once_per_channel(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        user_id, order_id = unique("user"), unique("order")
        register(conn, service, user_id)
        before = {w.channel: w.delivered + w.duplicates for w in service.workers}

        event = Recorded.of(
            conn,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "PAID", "CONFIRMED"),
        )
        event.write(conn, copies=2)

        # Each worker has handled both copies of its request...
        until(
            lambda: all(
                w.delivered + w.duplicates >= before[w.channel] + 2 for w in service.workers
            )
        )
        # ...for both copies fanned out (at-least-once upstream): six requests on the channel
        # topics, the same three ids twice...
        requested = read_to_end(
            conn, *CHANNEL_TOPICS.values(), where=of_order(order_id, "NotificationRequested")
        )
        assert len(requested) == 6 and len({e.value["notification_id"] for e in requested}) == 3

        # ...and delivered only one of them.
        sent = read_to_end(conn, NOTIFICATIONS, where=of_order(order_id, "NotificationSent"))
        assert sorted(e.value["channel"] for e in sent) == ["email", "push", "sms"]

    def test_a_request_delivered_before_is_known_from_the_log(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        """What a restart (or another replica) relies on: NotificationSent on `notifications`
        is the memory of delivered ids, read by every replica's table."""
        user_id, order_id = unique("user"), unique("order")
        done = notification_id(unique("event"), "email")
        publish(
            conn,
            NOTIFICATIONS,
            user_id,
            "NotificationSent",
            {"notification_id": done, "order_id": order_id, "user_id": user_id, "channel": "email"},
            service="notification",
        )
        until(lambda: done in service.delivered)
        [email] = [w for w in service.workers if w.channel == "email"]
        before = email.duplicates

        publish(
            conn,
            CHANNEL_TOPICS["email"],
            user_id,
            "NotificationRequested",
            {
                "notification_id": done,
                "order_id": order_id,
                "user_id": user_id,
                "channel": "email",
                "template": "order-confirmed",
                "recipient_masked": "a***@example.com",
                "user_name": "Ada",
            },
            service="notification",
        )

        until(lambda: email.duplicates == before + 1)
        assert (
            len(read_to_end(conn, NOTIFICATIONS, where=of_order(order_id, "NotificationSent"))) == 1
        )

    def test_pending_payment_sends_payment_retry_notifications(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        user_id, order_id = unique("user"), unique("order")
        register(conn, service, user_id)
        publish(
            conn,
            ORDER_EVENTS,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "PAYMENT_FAILED", "PENDING_PAYMENT"),
            service="order",
        )

        sent = read_events(conn, NOTIFICATIONS, 3, where=of_order(order_id, "NotificationSent"))
        assert sorted(e.value["channel"] for e in sent) == ["email", "push", "sms"]
        requested = read_to_end(
            conn, *CHANNEL_TOPICS.values(), where=of_order(order_id, "NotificationRequested")
        )
        assert [e.value["template"] for e in requested] == ["payment-retry"] * 3

        metrics = localhttp.get(f"http://127.0.0.1:{service.port}/metrics", timeout=5).text
        for channel in ("email", "sms", "push"):
            labels = f'channel="{channel}",template="payment-retry"'
            assert f"kafkalab_notifications_requested_total{{{labels}}}" in metrics
            assert f"kafkalab_notifications_sent_total{{{labels}}}" in metrics

    def test_unknown_user_is_retried_then_dead_lettered(
        self,
        conn: Connection,
        cluster: Settings,
        service: NotificationService,
        unique: Callable[[str], str],
    ) -> None:
        user_id, order_id = unique("ghost"), unique("order")
        publish(
            conn,
            ORDER_EVENTS,
            order_id,
            "OrderStatusChanged",
            status_changed(order_id, user_id, "RESERVED", "CANCELLED"),
            service="order",
        )

        [dead] = read_raw(conn, "notification.DLT", 1, where=lambda m: m.key() == order_id.encode())
        headers = dict(dead.headers())
        assert headers["error.type"] == b"Retryable"
        assert headers["attempts"] == str(NotificationService.max_attempts).encode()
        assert (
            read_to_end(conn, NOTIFICATIONS, where=of_order(order_id, "NotificationRequested"))
            == []
        )

    def test_health_shows_the_profile_table_and_the_channel_groups(
        self, cluster: Settings, service: NotificationService
    ) -> None:
        health = localhttp.get(f"http://127.0.0.1:{service.port}/health", timeout=5).json()
        assert health["status"] == "ok" and health["profiles_loaded"] is True
        assert {c: s["group"] for c, s in health["channels"].items()} == {
            "email": "kafkalab-notification-email",
            "sms": "kafkalab-notification-sms",
            "push": "kafkalab-notification-push",
        }
        assert all(s["alive"] for s in health["channels"].values())


def test_a_restarted_service_does_not_deliver_again(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    """Delivered ids are rebuilt from `notifications` when the process starts, before any
    worker takes a request: a redelivery after a restart is recognised, not sent again."""
    ensure_topics(conn)
    user_id, order_id = unique("user"), unique("order")
    event = Recorded.of(
        conn,
        order_id,
        "OrderStatusChanged",
        status_changed(order_id, user_id, "PAID", "CONFIRMED"),
    )
    with running(NotificationService, cluster, conn) as first:
        register(conn, first, user_id)
        event.write(conn)
        read_events(conn, NOTIFICATIONS, 3, where=of_order(order_id, "NotificationSent"))

    with running(NotificationService, cluster, conn) as restarted:
        event.write(conn)  # e.g. the upstream producer retried after our restart
        until(lambda: all(w.delivered + w.duplicates >= 1 for w in restarted.workers))
        assert [w.duplicates for w in restarted.workers] == [1, 1, 1]

    sent = read_to_end(conn, NOTIFICATIONS, where=of_order(order_id, "NotificationSent"))
    assert sorted(e.value["channel"] for e in sent) == ["email", "push", "sms"]
