"""The topic catalogue: every topic the platform uses, with its shape, applied idempotently.

Busy event topics get 6 partitions (so up to 6 members of one group share a topic's work);
table-like topics (`users`, `stock`) are compacted so they keep the latest value per key
forever; dead-letter topics keep their records for a week so an operator can replay them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient, NewTopic

from kafkalab.errors import KafkalabError

WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    purpose: str
    compacted: bool = False
    retention_ms: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def config(self, min_isr: int) -> dict[str, str]:
        conf = {"min.insync.replicas": str(min_isr), **self.extra}
        if self.compacted:
            conf["cleanup.policy"] = "compact"
        if self.retention_ms is not None:
            conf["retention.ms"] = str(self.retention_ms)
        return conf


USER_EVENTS = "user-events"
USERS = "users"
ORDER_EVENTS = "order-events"
INVENTORY_EVENTS = "inventory-events"
INVENTORY_REQUESTS = "inventory-requests"
INVENTORY_REPLIES = "inventory-replies"
STOCK = "stock"
PAYMENTS = "payments"
PAYMENTS_RETRY = "payments.retry"
PAYMENTS_DLT = "payments.DLT"
NOTIFICATIONS = "notifications"
NOTIFICATIONS_EMAIL = "notifications.email"
NOTIFICATIONS_SMS = "notifications.sms"
NOTIFICATIONS_PUSH = "notifications.push"
ANALYTICS = "analytics"
AUDIT = "audit"
REFUNDS = "refunds"
REFUNDS_DLT = "refunds.DLT"

CHANNEL_TOPICS = {
    "email": NOTIFICATIONS_EMAIL,
    "sms": NOTIFICATIONS_SMS,
    "push": NOTIFICATIONS_PUSH,
}

CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(USER_EVENTS, 6, "user_id", "UserRegistered, UserLoggedIn"),
    TopicSpec(USERS, 3, "user_id", "latest profile per user (table)", compacted=True),
    TopicSpec(ORDER_EVENTS, 6, "order_id", "OrderCreated, OrderStatusChanged"),
    TopicSpec(INVENTORY_EVENTS, 6, "order_id", "InventoryReserved, OutOfStock, StockCommitted, …"),
    TopicSpec(INVENTORY_REQUESTS, 3, "correlation_id", "stock checks (request-reply)"),
    TopicSpec(INVENTORY_REPLIES, 3, "correlation_id", "stock check answers (request-reply)"),
    TopicSpec(STOCK, 3, "sku", "latest stock level per SKU (table)", compacted=True),
    TopicSpec(PAYMENTS, 6, "order_id", "PaymentCompleted, PaymentFailed (transactional)"),
    TopicSpec(PAYMENTS_RETRY, 6, "order_id", "payments waiting for another attempt"),
    TopicSpec(
        PAYMENTS_DLT, 1, "order_id", "poison payments, reason in headers", retention_ms=WEEK_MS
    ),
    TopicSpec(NOTIFICATIONS, 6, "user_id", "NotificationSent, from the channel workers"),
    TopicSpec(NOTIFICATIONS_EMAIL, 3, "user_id", "email channel: NotificationRequested"),
    TopicSpec(NOTIFICATIONS_SMS, 3, "user_id", "sms channel"),
    TopicSpec(NOTIFICATIONS_PUSH, 3, "user_id", "push channel"),
    TopicSpec(ANALYTICS, 3, "metric", "windowed aggregates from quixstreams"),
    TopicSpec(AUDIT, 3, "principal", "who did what, allowed or denied"),
    # The learner's seventh service (lesson 22, `kafkalab up --with refund`) writes these.
    TopicSpec(REFUNDS, 3, "order_id", "RefundIssued, one per order paid and then cancelled"),
    TopicSpec(REFUNDS_DLT, 1, "original key", "the refund service's poison", retention_ms=WEEK_MS),
)


def dlt_topic(service: str) -> str:
    """Where `service` parks messages it cannot process (payment's is payments.DLT)."""
    return PAYMENTS_DLT if service == "payment" else f"{service}.DLT"


DLT_SERVICES = ("order", "inventory", "notification", "analytics")
CATALOGUE += tuple(
    TopicSpec(dlt_topic(s), 1, "original key", f"{s}'s poison messages", retention_ms=WEEK_MS)
    for s in DLT_SERVICES
)


def apply_catalogue(
    admin: AdminClient, brokers: int | None = None, timeout: float = 30.0
) -> list[str]:
    """Create every missing topic; existing ones are left as they are. Returns the created names.

    Replication follows the cluster's size (`brokers`, else as many as the metadata names):
    factor 3 and min.insync.replicas 2 from three brokers on, 1 and 1 below."""
    metadata = admin.list_topics(timeout=timeout)
    size = brokers if brokers is not None else len(metadata.brokers)
    rf = 3 if size >= 3 else 1
    min_isr = 2 if size >= 3 else 1
    existing = set(metadata.topics)
    missing = [spec for spec in CATALOGUE if spec.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, rf, config=s.config(min_isr)) for s in missing],
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except Exception as exc:  # noqa: BLE001
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise KafkalabError(f"could not create topic {name}: {exc}") from exc
    return sorted(created)
