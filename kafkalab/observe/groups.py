"""Which consumer groups there are: the platform's own, and those the cluster knows."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Member:
    """One member of a group: who it is, and the partitions it was given."""

    member_id: str
    instance_id: (
        str | None
    )  # group.instance.id: a static member keeps its partitions across restarts
    client_id: str
    host: str
    assignment: list[str] = field(default_factory=list)  # topic[partition]

    @property
    def static(self) -> bool:
        return bool(self.instance_id)


@dataclass
class GroupDescription:
    group: str
    state: str  # Stable, PreparingRebalance, CompletingRebalance, Empty, Dead, …
    kind: str  # classic or consumer (KIP-848), when the broker says
    assignor: str
    coordinator: int | None
    members: list[Member] = field(default_factory=list)


def describe_groups(
    conn: Connection, groups: list[str], timeout: float = 10.0
) -> list[GroupDescription]:
    """State, members (static ones with their instance id) and assignment of each group, as the
    coordinator reports them (a group it does not know comes back as Dead, with no members)."""
    if not groups:
        return []
    admin = clients.admin(conn)
    futures = admin.describe_consumer_groups(groups, request_timeout=timeout)
    found = []
    for group in groups:
        try:
            d = futures[group].result(timeout=timeout)
        except Exception:  # noqa: BLE001 - a group being deleted or unknown: show it as dead
            found.append(GroupDescription(group, "Dead", "", "", None))
            continue
        members = [
            Member(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.host,
                sorted(
                    f"{tp.topic}[{tp.partition}]"
                    for tp in (m.assignment.topic_partitions if m.assignment else [])
                ),
            )
            for m in d.members
        ]
        kind = getattr(d, "type", None)
        found.append(
            GroupDescription(
                group,
                _name(d.state),
                _name(kind) if kind is not None else "",
                d.partition_assignor or "",
                d.coordinator.id if d.coordinator is not None else None,
                sorted(members, key=lambda m: (m.instance_id or "", m.member_id)),
            )
        )
    return found


def _name(enum_value: object) -> str:
    """ConsumerGroupState.PREPARING_REBALANCING → Preparing rebalancing; STABLE → Stable."""
    return str(getattr(enum_value, "name", enum_value)).replace("_", " ").capitalize()
