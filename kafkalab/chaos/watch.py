"""What Kafka does about a fault, observed from outside: group membership and partition leaders.

Snapshots are cheap AdminClient reads taken every half second; a change between two snapshots
becomes a line on the timeline ("rebalance: 2 → 1 members", "leader of payments[3]: 2 → 1").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab import clients
from kafkalab.connection import Connection


@dataclass(frozen=True)
class GroupSnapshot:
    group: str
    state: str
    members: tuple[str, ...]  # client ids, sorted
    partitions: int  # partitions assigned to some member


@dataclass(frozen=True)
class LeaderSnapshot:
    leaders: dict[str, int] = field(default_factory=dict)  # "topic[p]" → leader node (-1: none)
    under_replicated: int = 0


def group_snapshot(conn: Connection, group: str) -> GroupSnapshot:
    admin = clients.admin(conn, **{"log_level": 0})
    try:
        description = admin.describe_consumer_groups([group], request_timeout=5)[group].result(
            timeout=5
        )
    except Exception:  # noqa: BLE001 - an unreachable coordinator is itself worth showing
        return GroupSnapshot(group, "UNKNOWN", (), 0)
    members = tuple(sorted(m.client_id for m in description.members))
    assigned = sum(len(m.assignment.topic_partitions) for m in description.members if m.assignment)
    return GroupSnapshot(group, str(description.state).rsplit(".", 1)[-1], members, assigned)


def leader_snapshot(conn: Connection, topics: tuple[str, ...]) -> LeaderSnapshot:
    admin = clients.admin(conn, **{"log_level": 0})
    try:
        metadata = admin.list_topics(timeout=5)
    except Exception:  # noqa: BLE001
        return LeaderSnapshot()
    leaders: dict[str, int] = {}
    under = 0
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None:
            continue
        for pid, partition in topic.partitions.items():
            leaders[f"{name}[{pid}]"] = partition.leader
            under += len(partition.isrs) < len(partition.replicas)
    return LeaderSnapshot(leaders, under)


def describe_group_change(before: GroupSnapshot, after: GroupSnapshot) -> str | None:
    if before.members == after.members and before.partitions == after.partitions:
        return None
    gone = sorted(set(before.members) - set(after.members))
    joined = sorted(set(after.members) - set(before.members))
    parts = [f"{after.group}: {len(before.members)} → {len(after.members)} member(s)"]
    if gone:
        parts.append(f"left {', '.join(gone)}")
    if joined:
        parts.append(f"joined {', '.join(joined)}")
    parts.append(f"{after.partitions} partitions assigned ({after.state})")
    return "; ".join(parts)


def describe_leader_change(before: LeaderSnapshot, after: LeaderSnapshot) -> str | None:
    moved = [
        f"{tp}: {before.leaders[tp]} → {leader}"
        for tp, leader in after.leaders.items()
        if tp in before.leaders and before.leaders[tp] != leader
    ]
    if not moved and before.under_replicated == after.under_replicated:
        return None
    shown = ", ".join(moved[:4]) + (f" (+{len(moved) - 4} more)" if len(moved) > 4 else "")
    return (
        f"leader election: {len(moved)} partition(s) moved{': ' + shown if moved else ''}; "
        f"{after.under_replicated} under-replicated"
    )


def group_assignment(conn: Connection, group: str) -> dict[str, list[str]]:
    """Each member's partitions ("topic[p]"), by client id; empty when the group is unreachable."""
    admin = clients.admin(conn, **{"log_level": 0})
    try:
        description = admin.describe_consumer_groups([group], request_timeout=5)[group].result(
            timeout=5
        )
    except Exception:  # noqa: BLE001 - shown as "no members" rather than raised mid-scenario
        return {}
    return {
        m.client_id: sorted(
            (f"{tp.topic}[{tp.partition}]" for tp in m.assignment.topic_partitions),
            key=lambda name: (name.split("[")[0], int(name.split("[")[1].rstrip("]"))),
        )
        if m.assignment
        else []
        for m in sorted(description.members, key=lambda m: m.client_id)
    }
