"""The six services, their order and their HTTP ports (one place, used by services and supervisor)."""

from __future__ import annotations

from kafkalab.settings import Settings

SERVICES: tuple[str, ...] = ("user", "order", "inventory", "payment", "notification", "analytics")
REPLICA_PORT_STRIDE = 10


def service_port(settings: Settings, name: str, replica: int = 0) -> int:
    """user → 8101, order → 8102, …; replica r of a service adds 10·r (payment #2 → 8114)."""
    return settings.service_port + SERVICES.index(name) + REPLICA_PORT_STRIDE * replica


def group_id(name: str) -> str:
    """The consumer group of a service: every replica of it shares this group."""
    return f"kafkalab-{name}"
