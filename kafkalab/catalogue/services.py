"""The six services, their order, HTTP ports and consumer groups, and the notification channels
and templates: one place, read by the services, the supervisor, security and the checkers."""

from __future__ import annotations

from kafkalab.settings import Settings

SERVICES: tuple[str, ...] = ("user", "order", "inventory", "payment", "notification", "analytics")
REPLICA_PORT_STRIDE = 10

LEARNER_SERVICES: tuple[str, ...] = ("refund",)
"""Services the learner writes: lesson 22's refund service. The supervisor runs one only when
asked (`kafkalab up --with refund`), from the learner's own file, as a seventh service."""
LEARNER_PORT_OFFSET = 7
"""The refund service's /metrics: service_port + 7 (+ 6 is the platform's own /metrics)."""

AUTOSCALED: tuple[str, ...] = ("payment", "notification")
"""The services the lag autoscaler may add replicas to: their replicas share a group without
sharing memory (payment's decisions are keyed by order and its transactional.id is per replica;
notification fans out without state of its own). Not inventory: it keeps the one shop-wide
stock ledger in memory, so a second replica would sell the same stock twice and expire
reservations it no longer owns. Not order or analytics: their per-partition state is rebuilt
at start, and moving it under load is a step a person should take on purpose (`kafkalab
scale`), not a reflex. user reads no topic, so it has no lag."""


def service_port(settings: Settings, name: str, replica: int = 0) -> int:
    """user → 8101, order → 8102, …; replica r of a service adds 10·r (payment #2 → 8114);
    the learner's refund service → 8108."""
    if name in LEARNER_SERVICES:
        offset = LEARNER_PORT_OFFSET + LEARNER_SERVICES.index(name)
    else:
        offset = SERVICES.index(name)
    return settings.service_port + offset + REPLICA_PORT_STRIDE * replica


def platform_port(settings: Settings) -> int:
    """The platform's own /metrics endpoint (monitoring/exporter.py), the port after the six
    services' (8101–8106): 8107 by default."""
    return settings.service_port + len(SERVICES)


def group_id(name: str) -> str:
    """The consumer group of a service: every replica of it shares this group."""
    return f"kafkalab-{name}"


CHANNELS: tuple[str, ...] = ("email", "sms", "push")
"""Notification fans out to one topic per channel (events.topics.CHANNEL_TOPICS)."""

TEMPLATES: dict[str, str] = {
    "CONFIRMED": "order-confirmed",
    "PENDING_PAYMENT": "payment-retry",
    "CANCELLED": "order-cancelled",
}
"""Order status (OrderStatusChanged.to_status) → the template notification sends. Other
statuses are silent."""

CUSTOMER_CANCELLED = "customer_cancelled"
"""The reason on the OrderStatusChanged CONFIRMED → CANCELLED that a customer's cancel emits
(order's state machine), which inventory puts the sold stock back for and verify accepts."""
