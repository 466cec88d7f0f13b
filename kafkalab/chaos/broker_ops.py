"""Broker faults as `chaos audit` and `soak` run them: each one a whole round trip.

A fault here is injected, watched until the partitions it hit have a new leader, undone (the
broker restarted or woken) and watched until every ISR is full again, so the next fault
always starts from a healthy cluster and never takes two brokers (the KRaft quorum) at once.

- kill:    SIGKILL the broker, restart it.
- pause:   SIGSTOP it (a zombie: alive, silent) until the controller fences it and elects new
           leaders (`broker.session.timeout.ms`, 9 s), then SIGCONT: it wakes still believing
           it leads, and must find out it does not.
- bounce:  SIGTERM (a controlled shutdown: leadership moves first), then restart.
- rolling: bounce every broker in turn, waiting for full ISRs before the next.

`lagging` makes a follower fall behind first: it is frozen for LAG_SECONDS (a GC pause, a
slow disk; it stays in the ISR, which tolerates `replica.lag.time.max.ms`, 30 s, of lag) just
before the leader fails, and woken right after. The controller then elects that follower,
the first in-sync replica in assignment order, and whatever the old leader had acknowledged
alone is gone. That is how acks=1 loses acknowledged writes without any unclean election.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafkalab import clients, processes
from kafkalab.chaos import collect
from kafkalab.cluster import config, lifecycle
from kafkalab.cluster.ports import port_free
from kafkalab.cluster.state import ClusterState
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.settings import Settings

KINDS = ("kill", "pause", "bounce", "rolling")
LAG_SECONDS = 1.0
"""How long the lagging follower is frozen before the leader fails (well under the 9 s after
which the controller would fence it, and the 30 s after which it would leave the ISR)."""
BOUNCE_FREEZE = 6.0
"""How long the lagging follower may sleep on while the bounced leader shuts down: its whole
freeze stays under the 9 s after which the controller would fence it."""
ELECTION_TIMEOUT = 40.0
"""The longest wait for new leaders: the 9 s session timeout, plus a busy machine's slack."""
SYNC_TIMEOUT = 180.0
"""The longest wait for a restarted broker to be back in every ISR (a JVM start on 2 cores)."""
STOP_TIMEOUT = 45.0
"""A controlled shutdown's bound, as `kafkalab cluster down` allows; SIGKILL after it."""
POLL = 0.5

Notify = Callable[[str], None]


class BrokerDown(KafkalabError):
    hint = "`kafkalab cluster up` starts the brokers that are not running"


@dataclass
class FaultRecord:
    """One fault as it happened: what, to whom, when, and how long the cluster took."""

    kind: str
    broker: int
    at: float
    """Wall clock (epoch seconds) when the fault was injected."""
    detail: str
    leaders_moved_s: float | None = None
    """Fault → every partition it hit led by another broker, and the victim in no ISR: fenced
    or shut down (None: not seen in time)."""
    in_sync_s: float | None = None
    """Fault → the broker back and every ISR full again (None: not seen in time)."""

    @property
    def recovered(self) -> bool:
        return self.leaders_moved_s is not None and self.in_sync_s is not None


def require_three(settings: Settings) -> None:
    """Refuse unless three brokers run, none of them paused: a fault needs two to survive."""
    state = ClusterState.load(settings)
    if state is None or state.brokers != 3:
        raise InvalidChoice(
            "broker faults need a 3-broker cluster (replication factor 3, min.insync.replicas 2)",
            hint="`kafkalab cluster up --brokers 3` (in a data dir of its own, or after "
            "`kafkalab cluster reset --yes`)",
        )
    for node in config.node_specs(settings, 3):
        pid = processes.read_pid(node.pid_file)
        if pid is None or processes.is_paused(pid):
            raise BrokerDown(f"broker-{node.node_id} is {'paused' if pid else 'not running'}")


def pid_of(settings: Settings, node_id: int) -> int:
    pid = processes.read_pid(config.node_specs(settings, 3)[node_id - 1].pid_file)
    if pid is None:
        raise BrokerDown(f"broker-{node_id} is not running")
    return pid


def send(settings: Settings, node_id: int, sig: signal.Signals) -> int:
    """Signal broker `node_id`; its pid."""
    pid = pid_of(settings, node_id)
    processes.signal_pids([pid], sig)
    return pid


def restore(settings: Settings) -> None:
    """Wake every paused broker and start every missing one: the state after any fault,
    interrupted or not (a Ctrl-C must never leave a broker frozen)."""
    for node in config.node_specs(settings, 3):
        pid = processes.read_pid(node.pid_file)
        if pid is not None and processes.is_paused(pid):
            processes.signal_pids([pid], signal.SIGCONT)
    start_missing(settings)


def start_missing(settings: Settings) -> None:
    """Start the brokers that are not running, once the ports the dead ones held are free
    (a JVM's listening sockets can outlive it for a moment)."""
    missing = [n for n in config.node_specs(settings, 3) if processes.read_pid(n.pid_file) is None]
    if not missing:
        return
    ports = [p for n in missing for p in (n.port, n.controller_port, n.metrics_port) if p]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(port_free(settings.host, p) for p in ports):
        time.sleep(0.2)
    # A JVM start on a busy 2-core machine can outlast the default start timeout.
    patient = max(settings.start_timeout, SYNC_TIMEOUT)
    lifecycle.up(settings.model_copy(update={"start_timeout": patient}))


def _partitions(conn: Connection, topics: tuple[str, ...] | None) -> list[Any]:
    """The PartitionMetadata of `topics` (None: every topic), as some live broker sees them;
    empty when no broker answers right now (the caller polls again)."""
    try:
        # A new client each time, bootstrapping from a random broker: a long-lived one keeps
        # asking the broker it is connected to, and a paused broker never answers.
        metadata = clients.admin(conn, **{"log_level": 0}).list_topics(timeout=5)
    except Exception:  # noqa: BLE001 - no answer now is an answer: not yet
        return []
    names = topics if topics is not None else tuple(metadata.topics)
    return [
        partition
        for name in names
        if (topic := metadata.topics.get(name)) is not None
        for partition in topic.partitions.values()
    ]


def leads_none(conn: Connection, node_id: int, topics: tuple[str, ...] | None = None) -> bool:
    """Every partition (of `topics`, or of every topic) has a leader, and it is not `node_id`."""
    partitions = _partitions(conn, topics)
    return bool(partitions) and all(p.leader not in (node_id, -1) for p in partitions)


def fenced_out(conn: Connection, node_id: int, topics: tuple[str, ...] | None = None) -> bool:
    """`node_id` leads nothing and is in no ISR: the controller has fenced it (no heartbeat for
    `broker.session.timeout.ms`) or it shut down, and new leaders were elected. Until then the
    metadata still names a dead broker as leader or ISR member, and nothing has recovered."""
    partitions = _partitions(conn, topics)
    return bool(partitions) and all(
        p.leader not in (node_id, -1) and node_id not in p.isrs for p in partitions
    )


def in_sync(conn: Connection) -> bool:
    """Every partition of every topic has a leader and its full ISR."""
    partitions = _partitions(conn, None)
    return bool(partitions) and all(
        p.leader != -1 and len(p.isrs) == len(p.replicas) for p in partitions
    )


def wait_for(check: Callable[[], bool], timeout: float, twice: bool = False) -> float | None:
    """Seconds until `check()` holds (None after `timeout`). With `twice` it must hold on two
    polls in a row: a broker just woken from SIGSTOP answers metadata from its stale view
    for a moment, and one lucky answer is not a recovery."""
    started = time.monotonic()
    streak = 0
    while time.monotonic() - started < timeout:
        streak = streak + 1 if check() else 0
        if streak >= (2 if twice else 1):
            return round(time.monotonic() - started - (POLL if twice else 0), 2)
        collect.now()  # the waiting thread collects: see chaos/collect.py
        time.sleep(POLL)
    return None


def inject(
    settings: Settings,
    conn: Connection,
    kind: str,
    victim: int,
    topics: tuple[str, ...] | None = None,
    lagging: int | None = None,
    notify: Notify | None = None,
) -> list[FaultRecord]:
    """Run one fault of `kind` on broker `victim` as a round trip (module docstring); one
    record per broker hit (a rolling restart hits all three). `topics` are the partitions
    whose leaders are watched (None: every topic)."""
    say = notify or (lambda _m: None)
    if kind not in KINDS:
        raise InvalidChoice(f"unknown broker fault '{kind}'", hint=f"one of: {', '.join(KINDS)}")
    require_three(settings)
    if kind == "rolling":
        records = []
        for node in (1, 2, 3):
            if wait_for(lambda: in_sync(conn), SYNC_TIMEOUT) is None:
                say("! the ISRs did not fill up before the next restart: going on anyway")
            records.append(_one(settings, conn, "bounce", node, topics, None, say))
            records[-1].kind = f"rolling {node}/3"
        return records
    return [_one(settings, conn, kind, victim, topics, lagging, say)]


def _one(
    settings: Settings,
    conn: Connection,
    kind: str,
    victim: int,
    topics: tuple[str, ...] | None,
    lagging: int | None,
    say: Notify,
) -> FaultRecord:
    sig = {"kill": signal.SIGKILL, "pause": signal.SIGSTOP, "bounce": signal.SIGTERM}[kind]

    def moved_check() -> bool:
        return fenced_out(conn, victim, topics)

    def synced_check() -> bool:
        # A woken zombie answers from its stale view (itself the leader, every ISR full): a
        # pause has recovered only once that view is gone too.
        return in_sync(conn) and (kind != "pause" or leads_none(conn, victim, topics))

    frozen: list[int] = []
    try:
        if lagging is not None:
            frozen.append(send(settings, lagging, signal.SIGSTOP))
            say(f"froze broker-{lagging} for {LAG_SECONDS:g} s: a follower falling behind")
            time.sleep(LAG_SECONDS)
        at = time.time()
        started = time.monotonic()
        pid = send(settings, victim, sig)
        if kind == "pause":
            frozen.append(pid)
        detail = f"{sig.name} → broker-{victim} (pid {pid})"
        if lagging is not None:
            detail += f" while broker-{lagging} lagged {LAG_SECONDS:g} s behind"
        say(detail)
        moved: float | None = None
        if lagging is not None:
            if kind == "bounce":
                # A controlled shutdown moves leadership to the sleeping follower (it is in
                # the ISR and not fenced), and the old leader serves fetches until it exits:
                # woken earlier, the follower would catch up from it in milliseconds.
                deadline = started + BOUNCE_FREEZE
                while processes.pid_alive(pid) and time.monotonic() < deadline:
                    if moved is None and moved_check():
                        moved = round(time.monotonic() - started, 2)
                    time.sleep(POLL)
            _thaw(frozen[:1])  # the leader is gone: the follower can no longer catch up
            del frozen[:1]
        if moved is None and wait_for(moved_check, ELECTION_TIMEOUT) is not None:
            moved = round(time.monotonic() - started, 2)
        _thaw(frozen)
        frozen.clear()
        say(
            f"new leaders after {moved:.1f} s"
            if moved is not None
            else f"! leadership did not move within {ELECTION_TIMEOUT:.0f} s"
        )
        if kind != "pause":
            if not processes.wait_gone([pid], STOP_TIMEOUT):
                processes.signal_pids([pid], signal.SIGKILL)
                processes.wait_gone([pid], 10)
            say(f"restarting broker-{victim}")
            start_missing(settings)
        synced = wait_for(synced_check, SYNC_TIMEOUT, twice=True)
        in_sync_s = None if synced is None else round(time.monotonic() - started, 2)
        say(
            f"broker-{victim} back, every ISR full after {in_sync_s:.1f} s"
            if in_sync_s is not None
            else f"! the ISRs were not full again within {SYNC_TIMEOUT:.0f} s"
        )
        return FaultRecord(kind, victim, at, detail, moved, in_sync_s)
    finally:
        _thaw(frozen)


def _thaw(pids: list[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        processes.signal_pids(pids, signal.SIGCONT)
