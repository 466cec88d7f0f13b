"""Lesson 7's grader: kill the learner's worker, start it again at once, and ask the broker and a
member of the grader's own what the restart did to the group.

The grader's observer joins the worker's group (with the strategy the group uses) and records
every rebalance callback it gets; describe_consumer_groups, sampled through the restart, shows
the group's state and each member's group.instance.id and partitions. A static member that is
back within session.timeout.ms takes its old place: the group stays Stable and the observer
hears nothing. A dynamic one is a new member: the group rebalances, and the dead member's
partitions wait for its session to run out.

The break (`kafkalab lesson 7 --break`: no group.instance.id) kills the worker every 3 s beside
the static reference worker: see kills.py.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafkalab import clients
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.verdict import Check

PARTITIONS = 6
JOBS = 30
FIRST_RUN = 60.0  # the worker's first start runs until the grader kills it
# The restarted worker's run: a static member is back at once and needs only the QUIET watch;
# a dynamic one's rebalance waits out the dead member's session, so it runs long enough to end it.
STATIC_RERUN = 3.5
DYNAMIC_RERUN = 7.0
SESSION = 6.0  # the worker's session.timeout.ms: the broker's minimum
QUIET = 1.5  # a settled group must stay so this long: a rebalance would show by then
SPARES = 7  # members of the throwaway group in the prediction experiment

STATIC_FIX = (
    "give the worker's consumer a group.instance.id that is the same at every start "
    '(a fixed name such as "worker-1", or the replica\'s host or pod name)'
)


def prepare(lab: Lab) -> Task:
    jobs = lab.topic("jobs", partitions=PARTITIONS)
    producer = lab.producer()
    token = secrets.token_hex(3)
    for n in range(JOBS):
        producer.produce(jobs, key=f"job-{n}", value=f"job {n} of run {token}")
    producer.flush(30)
    return Task(
        topics={"jobs": jobs},
        groups={"workers": lab.group("workers")},
        params={"seconds": FIRST_RUN},
        # the break's group for the reference (static) worker, killed beside the learner's
        private={"spares": lab.group("spares"), "static": lab.group("static")},
    )


@dataclass(frozen=True)
class Member:
    member_id: str
    instance: str | None
    partitions: tuple[int, ...]


@dataclass(frozen=True)
class Snapshot:
    at: float
    state: str
    assignor: str  # the strategy the group's members agreed on
    members: tuple[Member, ...]

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.member_id == member_id), None)


def _describe(admin: AdminClient, group: str) -> Snapshot:
    """The group as `kafka-consumer-groups --describe --members --verbose` shows it."""
    found = admin.describe_consumer_groups([group], request_timeout=5)[group].result(timeout=10)
    members = tuple(
        Member(
            member_id=m.member_id,
            instance=m.group_instance_id or None,
            partitions=tuple(sorted(tp.partition for tp in m.assignment.topic_partitions)),
        )
        for m in found.members
    )
    return Snapshot(time.monotonic(), found.state.name, found.partition_assignor or "", members)


class Observer:
    """The grader's member of the worker's group: it records each rebalance callback it gets."""

    def __init__(self, lab: Lab, group: str, topic: str, strategy: str) -> None:
        self.events: list[tuple[float, str, tuple[int, ...]]] = []
        self.consumer: Consumer = lab.consumer(
            group,
            **{
                # a group's members must share a strategy: the observer takes the worker's
                "partition.assignment.strategy": strategy,
                "session.timeout.ms": int(SESSION * 1000),
                "heartbeat.interval.ms": 1000,
                "enable.auto.commit": False,
                "client.id": "kafkalab-observer",
            },
        )
        self.consumer.subscribe(
            [topic],
            on_assign=lambda _c, ps: self._record("assign", ps),
            on_revoke=lambda _c, ps: self._record("revoke", ps),
            on_lost=lambda _c, ps: self._record("lost", ps),
        )

    def _record(self, kind: str, partitions: list[TopicPartition]) -> None:
        self.events.append((time.monotonic(), kind, tuple(sorted(p.partition for p in partitions))))

    def poll(self, seconds: float) -> None:
        """Serve its callbacks for `seconds` (the records themselves are of no interest)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.consumer.poll(min(left, 0.1))

    @property
    def member_id(self) -> str:
        return self.consumer.memberid() or ""

    def owned(self) -> tuple[int, ...]:
        return tuple(sorted(tp.partition for tp in self.consumer.assignment()))

    def close(self) -> None:
        self.consumer.close()


def _wait_for(
    admin: AdminClient,
    group: str,
    done: Callable[[Snapshot], bool],
    timeout: float,
    program: Program,
    observer: Observer | None = None,
) -> Snapshot | None:
    """The first snapshot of the group that is `done`; None after `timeout` or once the
    learner's program has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and program.running():
        if observer is not None:
            observer.poll(0.1)
        else:
            time.sleep(0.1)
        snapshot = _describe(admin, group)
        if done(snapshot):
            return snapshot
    return None


@dataclass
class Restart:
    """What the group went through from the kill to the restarted worker being settled."""

    killed_at: float
    started_at: float
    before: Member  # the worker as the group listed it before the kill
    observer: tuple[int, ...]  # the observer's partitions before the kill
    snapshots: list[Snapshot]
    events: list[tuple[float, str, tuple[int, ...]]]  # observer callbacks after the kill

    def others(self, snapshot: Snapshot, observer_id: str) -> list[Member]:
        return [
            m for m in snapshot.members if m.member_id not in (observer_id, self.before.member_id)
        ]


def _watch_restart(
    admin: AdminClient, group: str, observer: Observer, program: Program, restart: Restart
) -> None:
    """Sample the group until the restarted worker owns partitions in a Stable group without
    its dead self (and stays so for QUIET), or the dead member's session has surely ended."""
    mark = len(observer.events)
    settled_since: float | None = None
    deadline = restart.killed_at + SESSION + 4
    while time.monotonic() < deadline:
        observer.poll(0.1)
        if not program.running():
            break  # its close() would be one more change to the group, not the restart's
        snapshot = _describe(admin, group)
        restart.snapshots.append(snapshot)
        dead_gone = snapshot.member(restart.before.member_id) is None
        back = any(m.partitions for m in restart.others(snapshot, observer.member_id))
        if snapshot.state == "STABLE" and dead_gone and back:
            settled_since = settled_since or snapshot.at
            rebalanced = any(s.state != "STABLE" for s in restart.snapshots)
            if rebalanced or snapshot.at - settled_since >= QUIET:
                break
        else:
            settled_since = None
    if any(s.state != "STABLE" for s in restart.snapshots) and program.running():
        observer.poll(0.5)  # the rebalance's callbacks reach the observer just after
    restart.events = observer.events[mark:]


def _rebalances(restart: Restart) -> int:
    """Rebalances the observer went through: each one ends in an assign callback (librdkafka
    calls it with an empty list too, under cooperative-sticky); one still under way counts."""
    assigns = sum(1 for _, kind, _ in restart.events if kind == "assign")
    unsettled = any(s.state != "STABLE" for s in restart.snapshots)
    return max(assigns, 1 if unsettled or restart.events else 0)


def _judge(restart: Restart, observer_id: str) -> list[Check]:
    before = restart.before
    rejoined = next(
        (m for s in restart.snapshots for m in restart.others(s, observer_id)), None
    )  # the restarted worker, as soon as the group listed it
    owning = next(
        (
            (s, m)
            for s in restart.snapshots
            for m in restart.others(s, observer_id)
            if m.partitions and s.state == "STABLE"
        ),
        None,
    )
    unsettled = [s.at for s in restart.snapshots if s.state != "STABLE"]
    rebalanced = bool(unsettled or restart.events)
    same_back = owning is not None and owning[1].partitions == before.partitions

    if not rebalanced and same_back and owning is not None:
        back_after = owning[0].at - restart.started_at
        first = Check(
            "a kill and restart caused no rebalance",
            True,
            f"the group stayed Stable, the other member kept {list(restart.observer)} with no "
            f"rebalance callback, and the restarted worker owned {list(before.partitions)} "
            f"again {back_after:.1f} s after it started",
        )
    else:
        first = Check(
            "a kill and restart caused no rebalance",
            False,
            _what_happened(restart, unsettled, owning),
            fix=_cause(before, rejoined),
        )
    static = Check(
        "the worker is a static member",
        before.instance is not None,
        f"the group lists it with group.instance.id {before.instance!r}"
        if before.instance
        else "the group lists your worker with no group.instance.id: a dynamic member, "
        "known only by the member id the coordinator gave this one process",
        fix="" if before.instance else STATIC_FIX,
    )
    if rejoined is None:
        same = Check(
            "it came back as the same member",
            False,
            "the restarted worker never joined the group",
            fix="does the worker subscribe() and poll() as soon as it starts?",
        )
    elif before.instance is not None and rejoined.instance == before.instance:
        same = Check(
            "it came back as the same member",
            True,
            f"it rejoined as {rejoined.instance!r} and took the killed process's place",
        )
    else:
        same = Check(
            "it came back as the same member",
            False,
            f"the killed worker was {_name(before)}, the restarted one joined as "
            f"{_name(rejoined)}: a new member, while the old one kept its place until its "
            "session ran out",
            fix=STATIC_FIX,
        )
    return [first, static, same]


def _name(member: Member) -> str:
    if member.instance:
        return f"group.instance.id {member.instance!r}"
    return f"dynamic member {member.member_id[-12:]}"


def _what_happened(
    restart: Restart, unsettled: list[float], owning: tuple[Snapshot, Member] | None
) -> str:
    parts = []
    if unsettled:
        parts.append(f"the group rebalanced (not Stable for {unsettled[-1] - unsettled[0]:.1f} s)")
    revoked = [(at, ps) for at, kind, ps in restart.events if kind in ("revoke", "lost") and ps]
    if revoked:
        at, partitions = revoked[0]
        again = next(
            (t for t, kind, ps in restart.events if kind == "assign" and ps and t > at), None
        )
        idle = f"{again - at:.1f} s" if again else "the rest of the watch"
        parts.append(
            f"the other member's partitions {list(partitions)} were revoked and it read "
            f"nothing for {idle}"
        )
    elif restart.events:
        parts.append(
            f"the other member kept {list(restart.observer)} but its rebalance callback ran "
            f"{sum(1 for e in restart.events if e[1] == 'assign')}×"
        )
    mine = list(restart.before.partitions)
    if owning is not None:
        parts.append(
            f"your worker's partitions {mine} had no reader for "
            f"{owning[0].at - restart.killed_at:.1f} s"
        )
    else:
        parts.append(f"your worker's partitions {mine} were not back with it before it ended")
    return "; ".join(parts)


def _cause(before: Member, rejoined: Member | None) -> str:
    if before.instance is None:
        return (
            "your worker joined as a dynamic member (no group.instance.id): each start is a new "
            f"member, so the group rebalances — {STATIC_FIX}"
        )
    if rejoined is not None and rejoined.instance != before.instance:
        return (
            f"it came back as {_name(rejoined)}, not {before.instance!r}: a new member — derive "
            "group.instance.id from something a restart keeps (a fixed name, the host name), "
            "not a random value or the process id"
        )
    return (
        "a static member keeps its place only if it comes back within session.timeout.ms with "
        "the same group.instance.id and the same subscription"
    )


def _spares(lab: Lab, topic: str, group: str, strategy: str) -> int | None:
    """Seven members of a throwaway group on the 6-partition topic: how many own nothing."""
    admin = lab.admin()
    consumers = [
        lab.consumer(
            group,
            **{
                "partition.assignment.strategy": strategy,
                "heartbeat.interval.ms": 100,
                "enable.auto.commit": False,
            },
        )
        for _ in range(SPARES)
    ]
    try:
        for consumer in consumers:
            consumer.subscribe([topic])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for consumer in consumers:
                consumer.poll(0.02)
            snapshot = _describe(admin, group)
            owned = [len(m.partitions) for m in snapshot.members]
            if snapshot.state == "STABLE" and len(owned) == SPARES and sum(owned) == PARTITIONS:
                return owned.count(0)
        return None
    finally:
        clients.close_all(consumers)


def grade_break(lab: Lab, task: Task, program: Program) -> Graded:
    from .kills import grade_break as under_kills  # imports this module's helpers

    return under_kills(lab, task, program)


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    group, topic = task.groups["workers"], task.topics["jobs"]
    admin = lab.admin()
    program.start()
    alone = _wait_for(admin, group, lambda s: any(m.partitions for m in s.members), 20, program)
    if alone is None:
        if not program.running():
            program.wait()  # the learner's crash, if it was one, points at their line
        return Graded(
            [
                Check(
                    "the worker joined its group",
                    False,
                    f"no member of {group} owned a partition of {topic} within 20 s",
                    fix='does the worker subscribe to lab.topic("jobs") with group.id '
                    'lab.group("workers"), and poll()?',
                )
            ]
        )
    strategy = alone.assignor or "cooperative-sticky"
    observer = Observer(lab, group, topic, strategy)
    try:

        def settled(s: Snapshot) -> bool:
            mine = s.member(observer.member_id)
            return (
                s.state == "STABLE"
                and len(s.members) == 2
                and all(m.partitions for m in s.members)
                and mine is not None
                and mine.partitions == observer.owned()
            )

        pair = _wait_for(admin, group, settled, 20, program, observer)
        if not program.running():
            program.wait()  # ended early: their crash points at their line
        if pair is None or not program.running():
            return Graded(
                [
                    Check(
                        "the worker shared its group with a second member",
                        False,
                        f"{group} never settled with the worker and the grader's member "
                        "both owning partitions",
                        fix="does the worker keep polling until its run time is over?",
                    )
                ]
            )
        before = next(m for m in pair.members if m.member_id != observer.member_id)
        program.kill()  # SIGKILL: no close(), no LeaveGroup, as a crash
        killed_at = time.monotonic()
        program.start(seconds=STATIC_RERUN if before.instance else DYNAMIC_RERUN)
        restart = Restart(killed_at, time.monotonic(), before, observer.owned(), [], [])
        _watch_restart(admin, group, observer, program, restart)
        checks = _judge(restart, observer.member_id)
    finally:
        observer.close()
    spares = _spares(lab, topic, task.private["spares"], strategy)
    program.wait()
    return Graded(checks, truths={"rebalances": _rebalances(restart), "spares": spares})
