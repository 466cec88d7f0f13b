"""The notification service: order status changes become one message per channel.

Flow (DESIGN §3): the main loop (group `kafkalab-notification`) consumes `order-events` and
acts on OrderStatusChanged to CONFIRMED ("order-confirmed"), PENDING_PAYMENT ("payment-retry")
and CANCELLED ("order-cancelled"). It *enriches* the event with the user's profile from a table
built from the compacted `users` topic, then *fans out*: for each channel one
NotificationRequested goes to `notifications` (the record of everything requested) and to the
channel topic `notifications.email/.sms/.push` — every channel the user can be reached on,
except those they opted out of in their preferences (carried by the profile). Three channel
workers in the same process, each in its own consumer group (`kafkalab-notification-email`,
`-sms`, `-push`), deliver them (simulated) exactly once per notification_id and emit
NotificationSent on `notifications`.

PII: only masked addresses ("a***@example.com", "+44 ******1234") leave the `users` topic.

HTTP: GET /health (with the profile table and each worker's group, partitions and counts),
GET /metrics.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from kafkalab.catalogue import metrics as specs
from kafkalab.connection import Connection
from kafkalab.events.serde import Event
from kafkalab.events.topics import CHANNEL_TOPICS, ORDER_EVENTS, USERS
from kafkalab.security import fields
from kafkalab.security.audit import AuditEntry, AuditLog
from kafkalab.services.notification.messages import (
    CHANNELS,
    Profile,
    build_requests,
    skipped_channels,
    template_for,
)
from kafkalab.services.notification.workers import ChannelWorker, DeliveredIds
from kafkalab.services.runtime import Retryable, Service
from kafkalab.services.tables import TopicTable
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service.notification")

# How long the first events wait for the `users` table to be read to its end: an unknown
# user before that point means "not read yet", not "does not exist".
TABLE_LOAD_TIMEOUT = 15.0


class ProfileTable:
    """user_id → Profile, from the compacted `users` topic (tombstones delete)."""

    def __init__(self, settings: Settings, conn: Connection, audit: AuditLog | None = None) -> None:
        self._profiles: dict[str, Profile] = {}
        self._lock = threading.Lock()
        self._contact_key = fields.opener(settings, "contact")  # secure mode only
        self._audit = audit
        self.table = TopicTable(
            conn, USERS, self._on_event, self._on_tombstone, name="notification-users"
        )

    def _on_event(self, event: Event) -> None:
        if event.type != "UserProfile":
            return
        try:
            profile = Profile.from_value(self._open_contact(event.value))
        except fields.FieldUnreadable as exc:
            log.warning("profile with unreadable contact fields skipped: %s", exc)
            if self._audit is not None:
                who = str(event.value.get("user_id", ""))
                self._audit.record(AuditEntry(who, "decrypt contact", "users", False, str(exc)))
            return
        with self._lock:
            self._profiles[profile.user_id] = profile

    def _open_contact(self, value: dict[str, Any]) -> dict[str, Any]:
        """E-mail and phone arrive sealed in secure mode; notification holds the key to open
        them (it has to "send" to them), and keeps them only in memory."""
        if self._contact_key is None:
            return value
        opened = dict(value)
        user_id = str(value.get("user_id", ""))
        for name in ("email", "phone"):
            item = value.get(name)
            if isinstance(item, str) and fields.is_sealed(item):
                opened[name] = fields.open_sealed(self._contact_key, item, "contact", user_id)
        return opened

    def _on_tombstone(self, user_id: str) -> None:
        with self._lock:
            self._profiles.pop(user_id, None)

    def get(self, user_id: str) -> Profile | None:
        with self._lock:
            return self._profiles.get(user_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._profiles)


class NotificationService(Service):
    name = "notification"
    subscriptions = (ORDER_EVENTS,)
    # An unknown user may be a profile still on its way (the table tails `users` within
    # milliseconds): retry for 0.1 + 0.2 + 0.4 s before the event is dead-lettered.
    max_attempts: ClassVar[int] = 4
    backoff_seconds: ClassVar[float] = 0.1

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        super().__init__(settings, conn, replica, port)
        self.profiles = ProfileTable(settings, conn, self.audit)
        self.delivered = DeliveredIds(conn)
        self.workers = [ChannelWorker(self, channel) for channel in CHANNELS]
        registry = self.metrics.registry
        self.requested = specs.counter(specs.NOTIFICATIONS_REQUESTED, registry)
        self.sent = specs.counter(specs.NOTIFICATIONS_SENT, registry)
        self.duplicates = specs.counter(specs.NOTIFICATIONS_DUPLICATES, registry)
        self.skipped = specs.counter(specs.NOTIFICATIONS_SKIPPED, registry)

    def run(self) -> int:
        """The tables and channel workers run beside the runtime's loop and stop with it."""
        self.profiles.table.start()
        self.delivered.table.start()
        for worker in self.workers:
            worker.start()
        try:
            return super().run()
        finally:
            self.stopping.set()  # the workers watch the same flag
            for worker in self.workers:
                worker.join(15)
            self.producer.flush(10)  # the workers' last NotificationSent events
            self.profiles.table.stop()
            self.delivered.table.stop()

    def handle(self, event: Event) -> None:
        if event.type != "OrderStatusChanged":
            return
        template = template_for(str(event.value["to_status"]))
        if template is None:
            return
        user_id = str(event.value["user_id"])
        profile = self._profile(user_id)
        requests = build_requests(event.event_id, str(event.value["order_id"]), template, profile)
        for request in requests:
            self.emit(
                CHANNEL_TOPICS[request.channel],
                user_id,
                "NotificationRequested",
                request.as_value(),
                cause=event,
            )
            self.requested.labels(request.channel, template).inc()
        skipped = skipped_channels(profile)
        for channel, reason in skipped.items():
            self.skipped.labels(channel, reason).inc()
        log.info(
            "notifications requested",
            extra={
                "fields": {
                    "order_id": event.value["order_id"],
                    "template": template,
                    "channels": [r.channel for r in requests],
                    "skipped": skipped,
                }
            },
        )

    def _profile(self, user_id: str) -> Profile:
        if not self.profiles.table.wait_loaded(TABLE_LOAD_TIMEOUT):
            raise Retryable("the users table is still loading")
        profile = self.profiles.get(user_id)
        if profile is None:
            raise Retryable(f"no profile for user {user_id} (yet)")
        return profile

    def health(self) -> dict[str, Any]:
        return {
            "profiles": len(self.profiles),
            "profiles_loaded": self.profiles.table.loaded.is_set(),
            "delivered_ids": len(self.delivered),
            "channels": {w.channel: w.status() for w in self.workers},
        }
