"""How whole the cluster is: each broker running, dead or fenced, partitions under-replicated or
offline, and what killing one more broker would do.

Read from the metadata (a KRaft broker lists only unfenced brokers, and each partition's leader,
replicas and ISR) and from the brokers' pid files. The rule that refuses a dangerous kill
(`forecast_kill`) is a pure function of those facts, so it is unit-tested without a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafkalab import clients
from kafkalab.connection import Connection

BrokerState = str  # "running" | "dead" | "fenced"


@dataclass(frozen=True)
class PartitionView:
    """One partition as the metadata names it: "topic[p]", leader (-1: none), replicas, ISR."""

    name: str
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader < 0


@dataclass
class Partitions:
    """Every partition the metadata lists (internal topics too), and the unfenced brokers."""

    views: dict[str, PartitionView] = field(default_factory=dict)
    brokers: tuple[int, ...] = ()
    """Node ids the metadata lists: registered and not fenced."""
    readable: bool = True
    """False when no broker answered the metadata request."""

    @property
    def under_replicated(self) -> int:
        return sum(v.under_replicated for v in self.views.values())

    @property
    def offline(self) -> int:
        return sum(v.offline for v in self.views.values())

    def missing_from_isr(self, node: int) -> list[str]:
        """Partitions that have `node` as a replica but not in their ISR."""
        return [n for n, v in self.views.items() if node in v.replicas and node not in v.isr]


def read_partitions(
    conn: Connection,
    topics: Iterable[str] | None = None,
    timeout: float = 5.0,
    admin: Any = None,
) -> Partitions:
    """The metadata's view of `topics` (every topic when None); unreadable → empty, not raised.
    Pass an `admin` client to reuse it (a watch that polls several times a second)."""
    admin = admin or clients.admin(conn, **{"log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception:  # noqa: BLE001 - a cluster that does not answer is itself the answer
        return Partitions(readable=False)
    return partitions_of(metadata, topics)


def partitions_of(metadata: Any, topics: Iterable[str] | None = None) -> Partitions:
    """`Partitions` from a ClusterMetadata that was already read (`AdminClient.list_topics`)."""
    wanted = set(topics) if topics is not None else None
    views = {}
    for name, topic in metadata.topics.items():
        if wanted is not None and name not in wanted:
            continue
        for pid, p in topic.partitions.items():
            key = f"{name}[{pid}]"
            views[key] = PartitionView(key, p.leader, tuple(p.replicas), tuple(p.isrs))
    return Partitions(views, tuple(sorted(metadata.brokers)))


def broker_state(node: int, process_alive: bool, registered: Iterable[int]) -> BrokerState:
    """dead: no process; fenced: a process the controller does not (or no longer) count as a
    live broker (starting, or cut off); running: both."""
    if not process_alive:
        return "dead"
    return "running" if node in set(registered) else "fenced"


@dataclass(frozen=True)
class KillForecast:
    """What killing `victim` would do, predicted from who runs now and every ISR."""

    victim: int
    voters_left: int
    voters: int
    below_min_isr: int
    """Partitions whose ISR would fall below min.insync.replicas (acks=all refused)."""
    offline: int
    """Partitions whose every in-sync replica would be gone (no leader at all)."""
    min_isr: int

    @property
    def quorum_lost(self) -> bool:
        return self.voters_left < self.voters // 2 + 1

    @property
    def refusal(self) -> str | None:
        """One sentence saying why the kill is refused, or None when it is safe."""
        name = f"broker-{self.victim}"
        if self.quorum_lost:
            return (
                f"killing {name} would leave {self.voters_left} of {self.voters} KRaft "
                f"controllers, short of the majority of {self.voters // 2 + 1}: no leader could "
                "be elected and no ISR could change until one comes back"
            )
        if self.offline:
            return (
                f"killing {name} would take {self.offline} partition(s) offline: it is the "
                "only in-sync replica left"
            )
        if self.below_min_isr:
            return (
                f"killing {name} would leave {self.below_min_isr} partition(s) below "
                f"min.insync.replicas={self.min_isr}: acks=all writes to them would be refused"
            )
        return None

    @property
    def consequence(self) -> str:
        """The predicted effect, as the timeline shows it (also for a safe kill)."""
        return self.refusal or (
            f"{self.voters_left} of {self.voters} controllers stay (a majority) and every ISR "
            f"keeps at least min.insync.replicas={self.min_isr}: leaders move, writes go on"
        )


def forecast_kill(
    victim: int,
    alive: Iterable[int],
    voters: Iterable[int],
    partitions: Iterable[PartitionView],
    min_isr: int,
) -> KillForecast:
    """Predict a SIGKILL of `victim` given the nodes whose process runs (`alive`).

    Every node of kafkalab's cluster is a controller voter, so the quorum is counted over the
    voters still alive afterwards. An ISR is counted over live replicas only: a broker that died
    a moment ago is still in the metadata's ISR until the controller fences it."""
    left = set(alive) - {victim}
    voter_set = set(voters)
    below = offline = 0
    for view in partitions:
        if victim not in view.isr:
            continue
        remaining = [n for n in view.isr if n in left]
        if not remaining:
            offline += 1
        elif len(remaining) < min_isr:
            below += 1
    return KillForecast(victim, len(left & voter_set), len(voter_set), below, offline, min_isr)


def wait_in_sync(
    conn: Connection, node: int, timeout: float, poll: float = 0.5
) -> tuple[float | None, list[str]]:
    """Block until `node` is in the ISR of every partition it replicates (at most `timeout`
    seconds): (seconds it took, []) or (None, the partitions still missing it)."""
    started = time.monotonic()
    missing: list[str] = ["(no metadata yet)"]
    while time.monotonic() - started < timeout:
        view = read_partitions(conn)
        if view.readable and node in view.brokers:
            missing = view.missing_from_isr(node)
            if not missing:
                return round(time.monotonic() - started, 2), []
        time.sleep(poll)
    return None, missing
