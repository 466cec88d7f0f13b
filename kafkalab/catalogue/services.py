"""The six services, their order, HTTP ports and consumer groups, and the notification channels
and templates: one place, read by the services, the supervisor, security and the checkers."""

from __future__ import annotations

from kafkalab.settings import Settings

SERVICES: tuple[str, ...] = ("user", "order", "inventory", "payment", "notification", "analytics")
REPLICA_PORT_STRIDE = 10

AUTOSCALED: tuple[str, ...] = ("payment", "notification")
"""The services the lag autoscaler may add replicas to: their replicas share a group without
sharing memory (payment's decisions are keyed by order and its transactional.id is per replica;
notification fans out without state of its own). Not inventory: it keeps the one shop-wide
stock ledger in memory, so a second replica would sell the same stock twice and expire
reservations it no longer owns. Not order or analytics: their per-partition state is rebuilt
at start, and moving it under load is a step a person should take on purpose (`kafkalab
scale`), not a reflex. user reads no topic, so it has no lag."""


def service_port(settings: Settings, name: str, replica: int = 0) -> int:
    """user → 8101, order → 8102, …; replica r of a service adds 10·r (payment #2 → 8114)."""
    return settings.service_port + SERVICES.index(name) + REPLICA_PORT_STRIDE * replica


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
