"""Which consumer groups there are: the platform's own, and those the cluster knows."""

from __future__ import annotations

from kafkalab import clients
from kafkalab.catalogue.services import CHANNELS, SERVICES, group_id
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError


class UnknownGroup(KafkalabError):
    pass


def platform_groups() -> list[str]:
    """The six services' groups, then notification's channel workers' (one group per channel,
    so a slow sms gateway shows as sms lag, not as the whole service's)."""
    return [group_id(name) for name in SERVICES] + [
        f"{group_id('notification')}-{channel}" for channel in CHANNELS
    ]


def existing_groups(conn: Connection, timeout: float = 10.0) -> list[str]:
    """Every consumer group the cluster knows, sorted."""
    admin = clients.admin(conn)  # held until the answer is in: a collected client drops it
    listing = admin.list_consumer_groups(request_timeout=timeout).result(timeout=timeout)
    return sorted(g.group_id for g in listing.valid)


def check_group(conn: Connection, group: str) -> None:
    """UnknownGroup, naming the groups that do exist, unless the cluster knows `group`."""
    known = existing_groups(conn)
    if group not in known:
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        raise UnknownGroup(
            f"no consumer group {group!r} on the cluster",
            f"known groups: {shown}" if known else "no group has committed yet — `kafkalab up`",
        )
