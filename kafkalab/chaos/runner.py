"""Inject a fault (once, or every S seconds under load), watch Kafka react, time the recovery,
and end with the invariant checker: nothing lost, nothing doubled.

A fault on an idle shop shows a rebalance and judges no order at all, so a kill, pause or
restart of a service runs a short load in the background by default (`planned_load`): the
timeline then shows orders in flight when the fault lands, and the checker judges them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from kafkalab.catalogue.services import LEARNER_SERVICES, group_id
from kafkalab.chaos import containers, faults, paused, watch
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events.serde import now_ms
from kafkalab.events.topics import CATALOGUE
from kafkalab.platform import files
from kafkalab.settings import Settings

if TYPE_CHECKING:
    from kafkalab.load.driver import Progress
    from kafkalab.load.report import LoadReport

Notify = Callable[[str], None]
POLL = 0.5
JOIN_WAIT = 30.0
"""How long a fault waits for its target replica to join its consumer group first."""
DEFAULT_LOAD = 200
LOAD_RATE = 25.0
REFUND_LOAD_CANCELS = 0.3
"""`chaos … refund`: the share of paid orders its load cancels (each owes one refund)."""
"""Orders per second of the background load: 200 of them span a restart (~8 s), so orders keep
arriving while the replica is down and after it is back."""
LOAD_USERS = 10
"""Customers of the background load: few, as registering them delays the first order."""
LOAD_START_WAIT = 60.0
"""How long the first fault waits for the load's first accepted order."""
"""Orders of the background load a service fault runs unless told otherwise (`--no-load`)."""
LOADED_ACTIONS = ("kill", "pause", "restart")


def planned_load(
    action: str, target: str, during_load: int | None, no_load: bool, docker: bool = False
) -> int | None:
    """How many orders run meanwhile: `--during-load N`, none with `--no-load`, else
    DEFAULT_LOAD for a kill, pause or restart of a local service (a resume judges the pause's
    own window; a broker fault or a container runs bare unless a load is asked for)."""
    if no_load and during_load is not None:
        raise InvalidChoice(
            "--no-load and --during-load ask for opposite things",
            hint="keep one: --during-load N runs N orders meanwhile, --no-load none",
        )
    if no_load or during_load is not None:
        return during_load
    if action in LOADED_ACTIONS and not target.startswith("broker-") and not docker:
        return DEFAULT_LOAD
    return None


@dataclass
class LoadTally:
    """What became of the background load's orders, as the timeline and the CLI print it."""

    planned: int
    accepted: int
    refused: int
    confirmed: int
    cancelled: int
    rejected: int
    lost: int

    @classmethod
    def of(cls, load: LoadReport) -> LoadTally:
        both = (load.orders, load.failing)
        return cls(
            load.plan.orders,
            sum(o.accepted for o in both),
            sum(load.refused.values()),
            sum(o.confirmed for o in both),
            sum(o.cancelled for o in both),
            sum(o.rejected for o in both),
            load.lost,
        )

    def __str__(self) -> str:
        return (
            f"{self.planned} planned, {self.accepted} accepted, {self.refused} refused, "
            f"{self.confirmed} confirmed, {self.cancelled} cancelled, {self.rejected} rejected, "
            f"{self.lost} lost"
        )


@dataclass
class TimelineEntry:
    at_s: float
    kind: str  # fault | rebalance | election | recovered | load | note
    detail: str


@dataclass
class ChaosReport:
    action: str
    target: str
    faults: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    recovery_seconds: list[float] = field(default_factory=list)
    load: Any = None
    tally: LoadTally | None = None
    """The background load's orders, counted once it finished (None without a load)."""
    verify: Any = None
    # Why the invariant checker did not run (a pause without a load: judged on resume).
    unchecked: str | None = None

    @property
    def passed(self) -> bool:
        return self.verify is None or bool(self.verify.passed)


class _Clock:
    def __init__(self, report: ChaosReport, notify: Notify) -> None:
        self.start = time.monotonic()
        self.report, self.notify = report, notify

    def note(self, kind: str, detail: str) -> None:
        entry = TimelineEntry(round(time.monotonic() - self.start, 2), kind, detail)
        self.report.timeline.append(entry)
        self.notify(f"+{entry.at_s:6.2f} s  {kind:<9} {detail}")


def run(
    settings: Settings,
    conn: Connection,
    action: str,
    target_name: str,
    replica: int = 0,
    during_load: int | None = None,
    every: float | None = None,
    notify: Notify | None = None,
    recover_timeout: float = 60.0,
    docker: bool = False,
    start_missing: bool = True,
) -> ChaosReport:
    """The fault (every `every` seconds while a load of `during_load` orders runs), its
    timeline and the checker's verdict. With `start_missing`, a load on a platform that is not
    running starts it first, as `kafkalab load` does."""
    checked = faults.check_action(action)
    if every is not None and not during_load:
        raise InvalidChoice(
            "--every repeats a fault while a load runs",
            hint="drop --no-load, or add --during-load N",
        )
    try:
        target = faults.resolve(settings, target_name, replica, docker=docker)
    except faults.NothingRunning:
        if not during_load or docker or not start_missing:
            raise
        # A load needs the platform anyway: start what is missing, as `kafkalab load` does.
        from kafkalab.platform import control

        conn = control.up(settings, notify=notify).conn  # a new cluster may have been formatted
        target = faults.resolve(settings, target_name, replica, docker=docker)
    report = ChaosReport(checked, target.label)
    clock = _Clock(report, notify or (lambda _m: None))
    flight = _InFlight()
    scene = _Scene(settings, conn, target, clock, recover_timeout, flight)
    since = now_ms()
    local = target.kind == "service" and target.container is None
    if checked == "resume" and local:
        # Judge everything since the pause: that is the window whose events were held up.
        since = paused.forget(settings, target.label) or since
    if during_load and local and checked != "resume":
        # Join first, load second: a fault that waits for its replica to join would otherwise
        # land after a short load has finished, with nothing in flight.
        group = group_id(target.name)
        _await_member(scene, group, watch.group_snapshot(conn, group))
    # A refund service only has work when paid orders are cancelled: its load cancels some.
    refunds = target.name in LEARNER_SERVICES
    cancel_paid = REFUND_LOAD_CANCELS if refunds else 0.0
    load_thread = (
        _start_load(settings, conn, during_load, report, clock, flight, cancel_paid)
        if during_load
        else None
    )
    while True:
        recovered_in = _one_fault(scene, checked)
        report.faults += 1
        if checked == "pause" and load_thread is not None:
            # Under a load the pause is a round trip: once the group has evicted the member,
            # wake it and watch it rejoin, so the orders it holds can finish and be judged.
            recovered_in = _one_fault(scene, "resume")
        if recovered_in is not None:
            report.recovery_seconds.append(recovered_in)
        if load_thread is None or every is None or not load_thread.is_alive():
            break
        load_thread.join(every)
        if not load_thread.is_alive():
            break
    if load_thread is not None:
        load_thread.join()
    if checked == "pause" and load_thread is None:
        if local:
            paused.remember(settings, target.label, since)
        from kafkalab.platform.control import resume_command

        report.unchecked = (
            f"{target.label} stays paused: its events wait, they are not lost; "
            f"`{resume_command(target.name, target.replica)}` wakes it and runs the "
            "invariant checker over the pause"
        )
        clock.note("note", report.unchecked)
        return report
    from kafkalab.observe.verify import verify_orders  # reads every topic: load it on use

    clock.note("note", "running the invariant checker over everything since the first fault")
    report.verify = verify_orders(
        conn, None, since_ms=since, settle_seconds=30, refunds=refunds or None
    )
    return report


@dataclass(frozen=True)
class _Scene:
    """Where faults land and how their recovery is watched, the same for every fault of a run."""

    settings: Settings
    conn: Connection
    target: faults.Target
    clock: _Clock
    timeout: float
    flight: _InFlight


class _InFlight:
    """The background load's latest progress, so a fault's line says how many orders it hit."""

    def __init__(self) -> None:
        self.latest: Progress | None = None

    def update(self, progress: Progress) -> None:
        self.latest = progress

    def describe(self) -> str:
        latest = self.latest
        if latest is None or latest.phase not in ("sending", "draining"):
            return ""
        return f" — {latest.in_flight} order(s) in flight, {latest.accepted} accepted so far"


def _one_fault(scene: _Scene, action: faults.Action) -> float | None:
    """Inject once and watch until recovered; seconds to recovery (None when it does not apply)."""
    if scene.target.kind == "broker":
        return _broker_fault(scene, action)
    group = group_id(scene.target.name)
    before = watch.group_snapshot(scene.conn, group)
    if action != "resume":
        before = _await_member(scene, group, before)
    old_pid = faults.service_pid(scene.settings, scene.target)
    injected = time.monotonic()
    done = faults.inject(scene.settings, action, scene.target)
    scene.clock.note("fault", done + scene.flight.describe())
    deadline = injected + scene.timeout
    evicted = False
    while time.monotonic() < deadline:
        time.sleep(POLL)
        after = watch.group_snapshot(scene.conn, group)
        change = watch.describe_group_change(before, after)
        if change:
            scene.clock.note("rebalance", change)
            evicted = evicted or len(after.members) < len(before.members)
            before = after
        if action in ("kill", "restart") and _replaced_and_healthy(
            scene.settings, scene.target, old_pid
        ):
            seconds = time.monotonic() - injected
            scene.clock.note(
                "recovered",
                f"{scene.target.label} back (new pid, /health ok) after {seconds:.1f} s",
            )
            return seconds
        if action == "pause" and evicted:
            seconds = time.monotonic() - injected
            scene.clock.note(
                "note",
                f"the group evicted the paused {scene.target.label} after {seconds:.1f} s (session timeout)",
            )
            return None
        if action == "resume" and after.members and not change and time.monotonic() - injected > 2:
            seconds = time.monotonic() - injected
            scene.clock.note(
                "recovered",
                f"{scene.target.label} is processing again ({after.partitions} partitions assigned)",
            )
            return seconds
    scene.clock.note("note", f"no recovery observed within {scene.timeout:.0f} s")
    return None


def _await_member(scene: _Scene, group: str, snapshot: watch.GroupSnapshot) -> watch.GroupSnapshot:
    """The group once the target is one of its members (at most JOIN_WAIT seconds).

    A replica answers /health before its consumer has joined (a `scale` just before the
    fault, say): a fault that lands then shows no rebalance at all, which tells nothing."""
    member = f"{scene.target.name}-{scene.target.replica}"  # its client.id
    if member in snapshot.members:
        return snapshot
    scene.clock.note("note", f"waiting for {member} to join {group} before the fault")
    deadline = time.monotonic() + JOIN_WAIT
    while member not in snapshot.members and time.monotonic() < deadline:
        time.sleep(POLL)
        snapshot = watch.group_snapshot(scene.conn, group)
    return snapshot


def _replaced_and_healthy(settings: Settings, target: faults.Target, old_pid: int) -> bool:
    if target.container is not None:
        new_pid = containers.main_pid(target.container)
        return new_pid not in (0, old_pid) and containers.healthy(target.container)
    for row in files.read_status(settings).replicas:
        if row.service == target.name and row.replica == target.replica:
            if not row.pid or row.pid == old_pid:
                return False
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{row.port}/health", timeout=1).status_code == 200
                )
            except httpx.HTTPError:
                return False
    return False


def _broker_fault(scene: _Scene, action: faults.Action) -> float | None:
    topics = tuple(spec.name for spec in CATALOGUE)
    before = watch.leader_snapshot(scene.conn, topics)
    injected = time.monotonic()
    done = faults.inject(scene.settings, action, scene.target)
    scene.clock.note("fault", done + scene.flight.describe())
    deadline = injected + scene.timeout
    while time.monotonic() < deadline:
        after = watch.leader_snapshot(scene.conn, topics)
        change = watch.describe_leader_change(before, after)
        if change:
            scene.clock.note("election", change)
            before = after
        led_by_victim = sum(
            1 for leader in after.leaders.values() if leader in (scene.target.node_id, -1)
        )
        healthy = led_by_victim == 0 if action == "kill" else after.under_replicated == 0
        if after.leaders and healthy:
            seconds = time.monotonic() - injected
            what = (
                "every partition has a live leader"
                if action == "kill"
                else "all replicas back in sync"
            )
            scene.clock.note("recovered", f"{what} after {seconds:.1f} s")
            return seconds
        time.sleep(POLL)
    scene.clock.note("note", f"no recovery observed within {scene.timeout:.0f} s")
    return None


def _start_load(
    settings: Settings,
    conn: Connection,
    orders: int,
    report: ChaosReport,
    clock: _Clock,
    flight: _InFlight,
    cancel_paid: float = 0.0,
) -> threading.Thread:
    from kafkalab.load.driver import run_load  # the load driver: imported on use

    def work() -> None:
        try:
            report.load = run_load(
                settings,
                conn,
                orders=orders,
                rate=LOAD_RATE,
                users=min(LOAD_USERS, orders),
                progress=flight.update,
                cancel_paid=cancel_paid,
            )
        except KafkalabError as exc:  # said in the timeline; the fault's verdict still stands
            clock.note("load", f"the load stopped: {exc.message}")
            return
        report.tally = LoadTally.of(report.load)
        clock.note("load", f"load finished: {report.tally}")

    thread = threading.Thread(target=work, name="chaos-load", daemon=True)
    thread.start()
    clock.note("load", f"load of {orders} orders started (users, stock, then the orders)")
    # The fault lands once orders flow (users are registered first), so it hits some in flight.
    deadline = time.monotonic() + LOAD_START_WAIT
    while thread.is_alive() and time.monotonic() < deadline:
        latest = flight.latest
        if latest is not None and latest.phase == "sending" and latest.accepted:
            break
        time.sleep(0.1)
    return thread
