"""Lesson 7's break: the learner's worker, made dynamic (no group.instance.id), is SIGKILLed and
started again every EVERY seconds — what `kafkalab chaos kill SERVICE --every 3` does to a
service replica — while the reference solution (static) is killed at the same moments in a group
of its own. Each group has a member of the grader's beside its worker.

Measured for each, from the broker (describe_consumer_groups, sampled) and the grader's member's
rebalance callbacks: the rebalances, how long the group was not Stable, how many members it
listed at most, how long some of the topic's partitions had no live reader (owned by a killed
process, or by no one), and how many restarted workers read a partition before their own kill.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.verdict import Check

from .grade import FIRST_RUN, PARTITIONS, SESSION, STATIC_FIX, Observer, Snapshot, _describe

KILLS = 3
EVERY = 3.0  # seconds between kills, as `kafkalab chaos kill … --every 3`
SAMPLE = 0.2
NAMED = "your worker, killed every 3 s: no rebalance"
REFERENCE = "the reference worker (static), killed at the same moments"


@dataclass
class Arm:
    """One worker under the kills: its program, its group and the grader's member in it."""

    label: str
    program: Program
    group: str
    observer: Observer | None = None
    started: list[float] = field(default_factory=list)  # each start of the worker
    samples: list[Snapshot] = field(default_factory=list)
    mark: int = 0  # observer events before the first kill

    def workers(self, snapshot: Snapshot) -> list[str]:
        watcher = self.observer.member_id if self.observer else ""
        return [m.member_id for m in snapshot.members if m.member_id != watcher]

    def sample(self, admin: AdminClient) -> Snapshot:
        if self.observer is not None:
            self.observer.poll(0.02)
        snapshot = _describe(admin, self.group)
        self.samples.append(snapshot)
        return snapshot

    def kill_and_restart(self, admin: AdminClient, seconds: float) -> None:
        """SIGKILL the worker (no close(), no LeaveGroup, as a crash) and start it at once."""
        self.sample(admin)  # the members listed now are all of processes about to be dead
        self.program.kill()
        self.program.start(seconds=seconds)
        self.started.append(time.monotonic())


@dataclass(frozen=True)
class Measured:
    rebalances: int
    unfinished: bool  # still rebalancing when the watch ended
    unsettled: float  # seconds the group was not Stable
    most: int  # members the group listed at most (the grader's member included)
    unread: float  # seconds some partition had no live reader
    served: int  # restarts that read a partition before their own kill (or the end)
    window: float


def _live(arm: Arm, snapshot: Snapshot, restart_at: float) -> set[str]:
    """The worker members that belong to the process started at `restart_at`: any member id
    the group listed before that start (a sample is taken just before each kill) is of a
    process killed since."""
    before = {m for s in arm.samples if s.at < restart_at for m in arm.workers(s)}
    return {m for m in arm.workers(snapshot) if m not in before}


def _measure(arm: Arm, first_kill: float, end: float) -> Measured:
    window = [s for s in arm.samples if first_kill <= s.at <= end]
    watcher = arm.observer.member_id if arm.observer else ""
    unsettled = unread = 0.0
    served = 0
    restarts = [t for t in arm.started if t >= first_kill]
    for n, restart_at in enumerate(restarts):
        until = restarts[n + 1] if n + 1 < len(restarts) else end
        if any(
            s.state == "STABLE"
            and any(m.partitions for m in s.members if m.member_id in _live(arm, s, restart_at))
            for s in window
            if restart_at <= s.at < until
        ):
            served += 1
    for previous, snapshot in zip(window, window[1:], strict=False):
        step = snapshot.at - previous.at
        if snapshot.state != "STABLE":
            unsettled += step
        restart_at = max((t for t in restarts if t <= snapshot.at), default=first_kill)
        live = _live(arm, snapshot, restart_at) | {watcher}
        read = {p for m in snapshot.members if m.member_id in live for p in m.partitions}
        if len(read) < PARTITIONS:
            unread += step
    events = arm.observer.events[arm.mark :] if arm.observer else []
    assigns = sum(1 for at, kind, _ in events if kind == "assign" and at <= end)
    # each finished rebalance ends in an assign callback (an empty one too, under
    # cooperative-sticky); one still under way at the end counts as begun
    unfinished = bool(window) and window[-1].state != "STABLE"
    return Measured(
        rebalances=assigns + (1 if unfinished else 0),
        unfinished=unfinished,
        unsettled=unsettled,
        most=max((len(s.members) for s in window), default=0),
        unread=unread,
        served=served,
        window=end - first_kill,
    )


def _settle(admin: AdminClient, lab: Lab, task: Task, arms: list[Arm]) -> Check | None:
    """Start each worker, add the grader's member once it owns partitions, and wait until each
    group is Stable with both members reading. A ✘ when a worker never gets there."""
    topic = task.topics["jobs"]
    for arm in arms:
        arm.program.start(seconds=FIRST_RUN)
        arm.started.append(time.monotonic())
    deadline = time.monotonic() + 30
    waiting = list(arms)
    while waiting and time.monotonic() < deadline:
        for arm in list(waiting):
            if not arm.program.running():
                arm.program.wait()  # ended early: a crash of theirs points at their line
                return Check(
                    f"{arm.label} joined its group",
                    False,
                    f"{arm.label} ended before it owned a partition",
                    fix="does the worker keep polling until its run time is over?",
                )
            snapshot = arm.sample(admin)
            if arm.observer is None:
                if any(m.partitions for m in snapshot.members):
                    strategy = snapshot.assignor or "cooperative-sticky"
                    arm.observer = Observer(lab, arm.group, topic, strategy)
                continue
            mine = snapshot.member(arm.observer.member_id)
            if (
                snapshot.state == "STABLE"
                and len(snapshot.members) == 2
                and all(m.partitions for m in snapshot.members)
                and mine is not None
                and mine.partitions == arm.observer.owned()
            ):
                waiting.remove(arm)
        time.sleep(SAMPLE / 2)
    if waiting:
        return Check(
            f"{waiting[0].label} shared its group with a second member",
            False,
            f"{waiting[0].group} never settled with the worker and the grader's member both "
            "owning partitions within 30 s",
            fix='does the worker subscribe to lab.topic("jobs") with group.id '
            'lab.group("workers"), and poll() until its run time is over?',
        )
    return None


def _under_kills(admin: AdminClient, arms: list[Arm]) -> tuple[float, float]:
    """KILLS kills EVERY seconds apart, sampling both groups all along; (first kill, end)."""
    for arm in arms:
        arm.mark = len(arm.observer.events) if arm.observer else 0
    first = time.monotonic()
    for n in range(KILLS):
        last = n == KILLS - 1
        for arm in arms:  # the last start runs out on its own a moment after the watch ends
            arm.kill_and_restart(admin, EVERY + (1.0 if last else 5.0))
        next_at = first + (n + 1) * EVERY
        while time.monotonic() < next_at:
            for arm in arms:
                arm.sample(admin)
            time.sleep(SAMPLE / 2)
    return first, time.monotonic()


def _verdict(mine: Measured, theirs: Measured) -> list[Check]:
    quiet = mine.rebalances == 0 and mine.served == KILLS
    parts = [
        f"{mine.rebalances} rebalance(s) in {mine.window:.0f} s"
        + (" (the last one still under way)" if mine.unfinished else ""),
        f"some partitions had no live reader for {mine.unread:.1f} s",
        f"{mine.served} of {KILLS} restarted workers read a partition before their own kill",
    ]
    if not quiet:
        parts[0] += (
            f"; the group was not Stable for {mine.unsettled:.1f} s and listed up to "
            f"{mine.most} members for one live worker and the grader's (a killed member keeps "
            f"its place until its session.timeout.ms, {SESSION:.0f} s, runs out)"
        )
    first = Check(NAMED, quiet, "; ".join(parts), fix="" if quiet else STATIC_FIX)
    clean = theirs.rebalances == 0 and theirs.served == KILLS
    reference = Check(
        REFERENCE,
        True if clean else None,
        f"{theirs.rebalances} rebalance(s); partitions without a live reader for "
        f"{theirs.unread:.1f} s (each restart's start-up); {theirs.served} of {KILLS} "
        "restarts read their partitions again before the next kill",
        fix=""
        if clean
        else "the machine may be too busy for a clean comparison: run the break again",
    )
    return [first, reference]


def grade_break(lab: Lab, task: Task, program: Program) -> Graded:
    admin = lab.admin()
    reference = program.twin(
        lab.lesson.directory / "solution.py", {"workers": task.private["static"]}
    )
    arms = [
        Arm("your worker", program, task.groups["workers"]),
        Arm("the reference worker", reference, task.private["static"]),
    ]
    try:
        failed = _settle(admin, lab, task, arms)
        if failed is not None:
            return Graded([failed])
        first, end = _under_kills(admin, arms)
        mine, theirs = (_measure(arm, first, end) for arm in arms)
        for arm in arms:
            arm.program.wait()  # the last start ends on its own
    finally:
        for arm in arms:
            if arm.observer is not None:
                arm.observer.close()
        reference.close()
    truths = {
        "served": mine.served,
        "static_rebalances": theirs.rebalances,
        "rebalances": mine.rebalances,
        "unread": f"{mine.unread:.1f}",
        "static_unread": f"{theirs.unread:.1f}",
        "window": f"{mine.window:.0f}",
    }
    return Graded(_verdict(mine, theirs), truths)
