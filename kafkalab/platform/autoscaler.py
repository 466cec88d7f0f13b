"""The lag-based autoscaler that runs inside the supervisor process.

`kafkalab up --autoscale` writes the wish (a Policy) to `autoscale.json`; without that file the
autoscaler does nothing. While it is there, a thread of the supervisor samples every service's
consumer-group lag every couple of seconds (AdminClient, like `kafkalab lag`), asks
`scaling.decide` what to do, and acts the way `kafkalab scale` does: it writes the new replica
count to `desired.json`, which the supervisor's own loop then reconciles. Every step is logged
(`kafkalab logs supervisor`) and kept, with the latest lags, in `autoscaler.json` for
`kafkalab ps` and the high-load scenario. Only the services in catalogue.AUTOSCALED are
scaled (the others keep state a second replica must not share; see there).

Why a thread: reading lag can take seconds on a busy broker, and the reconcile loop must keep
restarting crashed replicas meanwhile.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from kafkalab import clients
from kafkalab.catalogue.services import AUTOSCALED, group_id
from kafkalab.connection import Connection
from kafkalab.observe.lag import GroupLag, group_lag
from kafkalab.platform import files
from kafkalab.platform.scaling import Decision, Policy, Sample, decide, replica_limit
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.supervisor")

SAMPLE_SECONDS = 2.0
DECISIONS_KEPT = 100


def wish_file(settings: Settings) -> Path:
    return files.platform_dir(settings) / "autoscale.json"


def state_file(settings: Settings) -> Path:
    return files.platform_dir(settings) / "autoscaler.json"


def enable(settings: Settings, policy: Policy) -> None:
    files.write_json(wish_file(settings), asdict(policy))


def disable(settings: Settings) -> None:
    wish_file(settings).unlink(missing_ok=True)


def read_policy(settings: Settings) -> Policy | None:
    """The policy asked for, or None when autoscaling is off."""
    try:
        raw = json.loads(wish_file(settings).read_text())
        return Policy(**raw)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


@dataclass
class GroupView:
    """One service as the autoscaler last saw it."""

    lag: int
    replicas: int
    limit: int
    added: int


@dataclass
class AutoscalerState:
    """What `autoscaler.json` holds: the policy in force, the latest view, every step taken."""

    policy: Policy | None = None
    updated_at: float = 0.0
    groups: dict[str, GroupView] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def read_state(settings: Settings) -> AutoscalerState:
    try:
        raw = json.loads(state_file(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return AutoscalerState()
    return AutoscalerState(
        Policy(**raw["policy"]) if raw.get("policy") else None,
        float(raw.get("updated_at", 0.0)),
        {name: GroupView(**view) for name, view in raw.get("groups", {}).items()},
        list(raw.get("decisions", [])),
    )


LagReader = Callable[[Connection], list[GroupLag]]
PartitionReader = Callable[[Connection], dict[str, int]]
TopicReader = Callable[[Connection, str], set[str]]


def _all_lags(conn: Connection) -> list[GroupLag]:
    return group_lag(conn, [group_id(name) for name in AUTOSCALED], timeout=5.0)


def _partition_counts(conn: Connection) -> dict[str, int]:
    metadata = clients.admin(conn).list_topics(timeout=5)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


@functools.lru_cache(maxsize=4)
def _admin(conn: Connection) -> AdminClient:
    """One AdminClient per cluster for the autoscaler's thread, not one per step and group."""
    return clients.admin(conn)


def _assigned_topics(conn: Connection, group: str) -> set[str]:
    """The topics `group`'s members are assigned, committed on or not: payment's retry topic
    may have no commit yet, but its partitions still give members work. Empty on error."""
    admin = _admin(conn)
    try:
        description = admin.describe_consumer_groups([group], request_timeout=5)[group].result(
            timeout=5
        )
    except Exception:  # noqa: BLE001 - the committed topics still give a limit
        return set()
    return {
        tp.topic
        for member in description.members
        if member.assignment
        for tp in member.assignment.topic_partitions
    }


class Autoscaler:
    """Samples, decides and scales; `step()` is one round (the thread calls it in a loop)."""

    def __init__(
        self,
        settings: Settings,
        conn: Connection,
        lags: LagReader = _all_lags,
        partitions: PartitionReader = _partition_counts,
        clock: Callable[[], float] = time.monotonic,
        topics: TopicReader = _assigned_topics,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self._lags, self._partitions, self._clock = lags, partitions, clock
        self._topics = topics
        self.topics: dict[str, set[str]] = {}
        """Every topic seen per service: a rebalance can leave a topic unowned for a moment."""
        self.samples: dict[str, list[Sample]] = {}
        self.added: dict[str, int] = {}
        self.capped: set[str] = set()
        self.state = AutoscalerState()

    def run(self, stopping: threading.Event, every: float = SAMPLE_SECONDS) -> None:
        while not stopping.wait(every):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - a broker hiccup must not end autoscaling
                log.warning("autoscaler: could not sample lag: %s", exc)

    def step(self) -> list[Decision]:
        policy = read_policy(self.settings)
        if policy is None:
            if self.state.policy is not None:
                log.info("autoscaler off")
            self.samples.clear()
            self.capped.clear()
            self.state.policy, self.state.groups = None, {}
            self._publish()
            return []
        if self.state.policy != policy:
            log.info(
                "autoscaler on: +1 replica when lag > %d for %g s%s",
                policy.lag_threshold,
                policy.sustain_seconds,
                f"; -1 added replica after {policy.idle_seconds:g} s at 0"
                if policy.scales_down
                else "",
            )
            self.samples.clear()
        self.state.policy = policy
        lags = {g.group: g for g in self._lags(self.conn)}
        counts = self._partitions(self.conn)
        desired = files.read_desired(self.settings)
        now = self._clock()
        keep = max(policy.sustain_seconds, policy.idle_seconds) + 2 * SAMPLE_SECONDS
        taken = []
        for name in AUTOSCALED:
            group = lags.get(group_id(name))
            if group is None:
                continue
            topics = self.topics.setdefault(name, set())
            topics |= {p.topic for p in group.partitions} | self._topics(self.conn, group.group)
            limit = replica_limit([counts.get(t, 0) for t in topics])
            replicas = desired.get(name, 0)
            added = self.added[name] = max(0, min(self.added.get(name, 0), replicas - 1))
            previous = self.state.groups.get(name)
            if previous is not None and previous.replicas != replicas:
                # Scaled by someone else (`kafkalab scale`): judge the new size afresh too.
                self.samples[name] = []
            history = self.samples.setdefault(name, [])
            history.append(Sample(now, group.total))
            history[:] = [s for s in history if s.at >= now - keep]
            self.state.groups[name] = GroupView(group.total, replicas, limit, added)
            decision = decide(policy, name, history, replicas, limit, added)
            if decision is None or decision.kind != "capped":
                self.capped.discard(name)
            if decision is None or (decision.kind == "capped" and name in self.capped):
                continue
            self._apply(decision)
            taken.append(decision)
        self.state.updated_at = time.time()
        self._publish()
        return taken

    def _apply(self, decision: Decision) -> None:
        name = decision.service
        if decision.kind == "capped":
            self.capped.add(name)
            log.info("autoscaler: %s stays at %d — %s", name, decision.replicas, decision.reason)
        else:
            desired = files.read_desired(self.settings)
            desired[name] = decision.target
            files.write_json(files.desired_file(self.settings), desired)
            self.added[name] = self.added.get(name, 0) + (1 if decision.kind == "up" else -1)
            self.samples[name] = []  # the next step needs a whole fresh window
            log.info(
                "autoscaler: %s %d → %d replicas (%s)",
                name,
                decision.replicas,
                decision.target,
                decision.reason,
            )
            view = self.state.groups.get(name)
            if view is not None:
                view.replicas, view.added = decision.target, self.added[name]
        self.state.decisions.append({"at": round(time.time(), 3), **asdict(decision)})
        del self.state.decisions[:-DECISIONS_KEPT]

    def _publish(self) -> None:
        files.write_json(state_file(self.settings), asdict(self.state))


def start(settings: Settings, conn: Connection, stopping: threading.Event) -> threading.Thread:
    """The autoscaler thread of the supervisor (a daemon: it dies with the process)."""
    thread = threading.Thread(
        target=Autoscaler(settings, conn).run, args=(stopping,), name="autoscaler", daemon=True
    )
    thread.start()
    return thread
