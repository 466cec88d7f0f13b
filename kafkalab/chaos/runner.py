"""Inject a fault (once, or every S seconds under load), watch Kafka react, time the recovery,
and end with the invariant checker: nothing lost, nothing doubled.

A fault on an idle shop shows a rebalance and judges no order at all, so a kill, pause or
restart of a service runs a short load in the background by default (`planned_load`): the
timeline then shows orders in flight when the fault lands, and the checker judges them.

Honesty rules: the fault lands once orders flow (after the load's set-up) or `after` seconds
into the load; a load that cannot start or dies fails the run (`ChaosReport.failure`), never a
green verdict over nothing; a broker kill's recovery is measured (chaos/recovery.py), not
guessed; and a kill that would lose the KRaft quorum or push partitions below
min.insync.replicas is refused before anything runs unless forced."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from confluent_kafka import KafkaException

from kafkalab import clients, localhttp, processes
from kafkalab.catalogue.services import LEARNER_SERVICES, group_id
from kafkalab.chaos import containers, faults, paused, recovery, watch
from kafkalab.chaos.tally import FaultImpact, LoadTally, impacts
from kafkalab.chaos.write_probe import Probe
from kafkalab.cluster import health
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events.serde import now_ms
from kafkalab.events.topics import CATALOGUE
from kafkalab.platform import files
from kafkalab.settings import Settings

if TYPE_CHECKING:
    from kafkalab.load.driver import Progress

__all__ = ["ChaosReport", "LoadTally", "TimelineEntry", "planned_load", "run"]

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
LOAD_START_WAIT = 120.0
"""How long the first fault waits for the load's first accepted order (set-up retries across
an election included); a load that sends none by then fails the run, with no fault."""
METADATA_POLL = 0.25
"""How often a broker kill's recovery reads the metadata."""
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


class KafkaUnanswered(KafkalabError):
    """A Kafka call of the chaos run itself failed (the cluster is in pieces): one sentence."""

    hint = "see `kafkalab cluster status`; `kafkalab cluster up` starts the brokers that are down"


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
    failure: str | None = None
    """One sentence saying what did not hold apart from the invariants: the load could not
    start or died, no recovery was seen, the checker could not read the topics."""
    kills: list[recovery.KillRecovery] = field(default_factory=list)
    """Each broker kill's recovery, partition by partition."""
    fault_ms: list[int] = field(default_factory=list)
    """Wall clock (epoch ms) of each fault, to count the orders each one disrupted."""
    impacts: list[FaultImpact] = field(default_factory=list)
    """Per fault: the load's orders it delayed or had refused."""
    forecast: str | None = None
    """A broker kill's predicted consequence (quorum, min.insync.replicas)."""

    @property
    def passed(self) -> bool:
        return self.failure is None and (self.verify is None or bool(self.verify.passed))

    def fail(self, why: str) -> None:
        """Keep the first reason: later ones usually follow from it."""
        self.failure = self.failure or why


class _Clock:
    def __init__(self, report: ChaosReport, notify: Notify) -> None:
        self.start = time.monotonic()
        self.report, self.notify = report, notify

    def note(self, kind: str, detail: str) -> None:
        entry = TimelineEntry(round(time.monotonic() - self.start, 2), kind, detail)
        self.report.timeline.append(entry)
        self.notify(f"+{entry.at_s:6.2f} s  {kind:<9} {detail}")


@contextlib.contextmanager
def _kafka_in_one_sentence() -> Iterator[None]:
    """A Kafka failure of the run's own calls (a cluster without quorum answers nothing) as
    one sentence: never an unexpected error."""
    try:
        yield
    except KafkaException as exc:
        raise KafkaUnanswered(f"Kafka did not answer the chaos run: {_sentence(exc)}") from exc


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
    after: float | None = None,
    force: bool = False,
) -> ChaosReport:
    """The fault (every `every` seconds while a load of `during_load` orders runs), its
    timeline and the checker's verdict. With `start_missing`, a load on a platform that is not
    running starts it first, as `kafkalab load` does. The first fault lands once the load's
    orders flow, or `after` seconds into the load. A broker kill that `health.forecast_kill`
    refuses raises `faults.KillRefused` before anything starts, unless `force`."""
    with _kafka_in_one_sentence():
        checked = faults.check_action(action)
        if every is not None and not during_load:
            raise InvalidChoice(
                "--every repeats a fault while a load runs",
                hint="drop --no-load, or add --during-load N",
            )
        if after is not None and not during_load:
            raise InvalidChoice(
                "--after times the fault from the start of the load",
                hint="add --during-load N, or drop --after",
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
        if target.kind == "broker" and checked == "kill" and every is not None:
            raise InvalidChoice(
                "--every cannot repeat a broker kill: a killed broker stays dead until restarted",
                hint=f"kill once, then `kafkalab chaos restart {target.name}`",
            )
        report = ChaosReport(checked, target.label)
        forecast = _forecast(settings, target, checked, force)
        clock = _Clock(report, notify or (lambda _m: None))
        if forecast is not None:
            report.forecast = forecast.consequence
            clock.note("note", f"predicted: {forecast.consequence}")
        flight = _InFlight()
        scene = _Scene(settings, conn, target, clock, recover_timeout, flight, forecast)
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
        load_thread = None
        if during_load:
            load_thread = _start_load(
                settings, conn, during_load, report, clock, flight, after, cancel_paid
            )
            if report.failure is not None:  # it never got going: no fault, no verdict over nothing
                return report
        while True:
            report.fault_ms.append(now_ms())
            recovered_in = _one_fault(scene, checked, report)
            report.faults += 1
            if checked == "pause" and load_thread is not None:
                # Under a load the pause is a round trip: once the group has evicted the member,
                # wake it and watch it rejoin, so the orders it holds can finish and be judged.
                recovered_in = _one_fault(scene, "resume", report)
            if recovered_in is not None:
                report.recovery_seconds.append(recovered_in)
            if report.failure is not None and forecast is not None and forecast.quorum_lost:
                break  # nothing recovers without a quorum: say so now, not after the load
            if load_thread is None or every is None or not load_thread.is_alive():
                break
            load_thread.join(every)
            if not load_thread.is_alive():
                break
        if load_thread is not None:
            load_thread.join(_load_join_timeout(report, forecast))
            _judge_load(report, during_load or 0, load_thread.is_alive())
            if report.load is not None:
                ends: list[int | None] = [*report.fault_ms[1:], None]
                report.impacts = impacts(
                    zip(report.fault_ms, ends, strict=True), report.load.disruptions
                )
                for impact in report.impacts:
                    clock.note("load", str(impact))
        if checked == "pause" and load_thread is None:
            if local and _woken_elsewhere(target, _pid_or_zero(settings, target)):
                report.unchecked = (
                    f"{target.label} was woken while this run watched: nothing is left "
                    "paused; `kafkalab verify` judges the orders"
                )
                clock.note("note", report.unchecked)
                return report
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
        if forecast is not None and forecast.quorum_lost:
            report.unchecked = (
                "the invariant checker needs a cluster that elects leaders: restart a broker first"
            )
            clock.note("note", report.unchecked)
            return report
        _check_invariants(report, conn, since, clock, refunds)
        return report


def _forecast(
    settings: Settings, target: faults.Target, action: faults.Action, force: bool
) -> health.KillForecast | None:
    """A local broker kill's predicted consequence; refused (KillRefused) unless `force`."""
    if target.kind != "broker" or target.container is not None or action != "kill":
        return None
    if faults.broker_pid(settings, target) is None:
        raise InvalidChoice(
            f"{target.name} is already down", hint=f"`kafkalab chaos restart {target.name}`"
        )
    predicted = faults.forecast(settings, target)
    if predicted.refusal and not force:
        dead = [b.name for b in faults.lifecycle.status(settings).brokers if not b.running]
        first = f"`kafkalab chaos restart {dead[0]}` first, or " if dead else ""
        raise faults.KillRefused(
            predicted.refusal, hint=f"{first}add --force to do it anyway and see what it does"
        )
    return predicted


def _load_join_timeout(report: ChaosReport, forecast: health.KillForecast | None) -> float | None:
    """Wait for the load to end, except on a cluster that lost its quorum: its orders cannot
    finish, so the run ends at once (the daemon thread dies with the process)."""
    lost = forecast is not None and forecast.quorum_lost and report.failure is not None
    return 0.0 if lost else None


def _judge_load(report: ChaosReport, planned: int, still_running: bool) -> None:
    """The load's share of the verdict: it must have ended and had orders accepted."""
    if still_running:
        report.fail(f"the load of {planned} orders was still running when the run ended")
    elif report.tally is not None and report.tally.accepted == 0:
        report.fail(
            f"the load had none of its {planned} orders accepted, so nothing was judged "
            f"({report.tally})"
        )


def _check_invariants(
    report: ChaosReport, conn: Connection, since: int, clock: _Clock, refunds: bool = False
) -> None:
    from kafkalab.observe.verify import verify_orders  # reads every topic: load it on use

    clock.note("note", "running the invariant checker over everything since the first fault")
    try:
        report.verify = verify_orders(
            conn, None, since_ms=since, settle_seconds=30, refunds=refunds or None
        )
    except KafkalabError as exc:
        report.fail(f"the invariant checker could not run: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - a cluster in pieces: one sentence, no traceback
        report.fail(f"the invariant checker could not read the topics: {_sentence(exc)}")


def _sentence(exc: BaseException) -> str:
    """An exception as one short sentence (a KafkaException's error text, not its repr)."""
    args = getattr(exc, "args", ())
    first: Any = args[0] if args else None
    text = first.str() if first is not None and hasattr(first, "str") else str(exc)
    text = text or type(exc).__name__
    return " ".join(str(text).split())[:300]


@dataclass(frozen=True)
class _Scene:
    """Where faults land and how their recovery is watched, the same for every fault of a run."""

    settings: Settings
    conn: Connection
    target: faults.Target
    clock: _Clock
    timeout: float
    flight: _InFlight
    forecast: health.KillForecast | None = None


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


def _one_fault(scene: _Scene, action: faults.Action, report: ChaosReport) -> float | None:
    """Inject once and watch until recovered; seconds to recovery (None when it does not apply,
    or did not happen: then `report.failure` says so)."""
    if scene.target.kind == "broker":
        if action == "kill":
            return _broker_kill(scene, report)
        return _broker_fault(scene, action, report)
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
        if action == "pause" and _woken_elsewhere(scene.target, old_pid):
            # Someone sent SIGCONT first (`chaos resume` in another terminal, or lesson 19's
            # break once the learner's alert fired): no eviction will come to wait for.
            seconds = time.monotonic() - injected
            scene.clock.note(
                "note",
                f"{scene.target.label} was woken (SIGCONT) elsewhere after {seconds:.1f} s, "
                "before its group evicted it",
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
    report.fail(f"{scene.target.label} did not recover within {scene.timeout:.0f} s")
    return None


def _pid_or_zero(settings: Settings, target: faults.Target) -> int:
    try:
        return faults.service_pid(settings, target)
    except faults.NothingRunning:
        return 0


def _woken_elsewhere(target: faults.Target, pid: int) -> bool:
    """A local replica this run paused runs again (a container's pause is not read here)."""
    if target.container is not None or pid <= 0:
        return False
    return processes.pid_alive(pid) and not processes.is_paused(pid)


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
                    localhttp.get(f"http://127.0.0.1:{row.port}/health", timeout=1).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False
    return False


def _broker_kill(scene: _Scene, report: ChaosReport) -> float | None:
    """SIGKILL the broker, then time, for each partition it led, the new leader, the shrunk
    ISR and an acks=all probe write (chaos/recovery.py). Recovered only when all three
    happened for every such partition."""
    topics = tuple(spec.name for spec in CATALOGUE)
    victim = scene.target.node_id
    view = health.read_partitions(scene.conn, topics)
    if not view.readable:
        report.fail("the metadata could not be read before the kill, so no recovery could be timed")
        return None
    kill = recovery.led_by(victim, view.views.values())
    report.kills.append(kill)
    try:
        probe: Probe | None = Probe(scene.conn, scene.timeout)
    except KafkaException as exc:  # no transaction coordinator: a cluster without a quorum
        probe = None
        scene.clock.note("note", f"no acks=all probe could be prepared: {_sentence(exc)}")
    try:
        return _watch_kill(scene, report, kill, probe, view)
    finally:
        if probe is not None:
            probe.close()


def _watch_kill(
    scene: _Scene,
    report: ChaosReport,
    kill: recovery.KillRecovery,
    probe: Probe | None,
    view: health.Partitions,
) -> float | None:
    before = watch.LeaderSnapshot(
        {n: v.leader for n, v in view.views.items()}, view.under_replicated
    )
    done = faults.inject(scene.settings, "kill", scene.target, force=True)  # forecast: run()
    injected = time.monotonic()
    scene.clock.note("fault", done + scene.flight.describe())
    if probe is not None:
        probe.fire([p.partition for p in kill.led], injected)
    if scene.forecast is not None and scene.forecast.quorum_lost:
        scene.clock.note("note", f"no election can follow: {scene.forecast.consequence}")
        report.fail(
            f"the KRaft quorum is lost, so no leader can be elected: `kafkalab chaos restart "
            f"{scene.target.name}` (or another dead broker) brings it back"
        )
        return None
    deadline = injected + scene.timeout
    topics = {name.rpartition("[")[0] for name in before.leaders}
    admin = clients.admin(scene.conn, **{"log_level": 0})
    while time.monotonic() < deadline:
        at = round(time.monotonic() - injected, 2)
        now = health.read_partitions(scene.conn, topics, admin=admin)
        if now.readable:
            after = watch.LeaderSnapshot(
                {n: v.leader for n, v in now.views.items()}, now.under_replicated
            )
            change = watch.describe_leader_change(before, after)
            if change:
                scene.clock.note("election", change)
                before = after
            recovery.observe(kill, now.views, now.brokers, at)
        if probe is not None:
            probe.poll(0)
            recovery.record_probes(kill, probe.result.acked)
        if kill.recovered:
            seconds = kill.seconds or 0.0
            scene.clock.note("recovered", f"{kill.summary()}; all recovered after {seconds:.1f} s")
            return seconds
        if probe is None:
            time.sleep(METADATA_POLL)
        else:
            probe.poll(METADATA_POLL)
    waiting = ", ".join(f"{n} for {what}" for what, n in kill.waiting().items() if n)
    scene.clock.note("note", f"not recovered within {scene.timeout:.0f} s: {waiting}")
    errors = sorted(set(probe.result.errors.values())) if probe is not None else []
    report.fail(
        f"{scene.target.name}'s partitions did not all recover within {scene.timeout:.0f} s "
        f"(still waiting: {waiting})" + (f"; probe writes saw {errors[0]}" if errors else "")
    )
    return None


def _broker_fault(scene: _Scene, action: faults.Action, report: ChaosReport) -> float | None:
    """A broker restart (or a container's kill): back once every replica is in sync again."""
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
    report.fail(f"{scene.target.name} did not recover within {scene.timeout:.0f} s")
    return None


def _start_load(
    settings: Settings,
    conn: Connection,
    orders: int,
    report: ChaosReport,
    clock: _Clock,
    flight: _InFlight,
    after: float | None = None,
    cancel_paid: float = 0.0,
) -> threading.Thread:
    """Start the load on a thread and return once the first fault may land: when orders flow
    (its first accepted order: the users are registered, the stock topped up), or `after`
    seconds in. A load that dies or never gets going sets `report.failure` instead."""
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
        except KafkalabError as exc:
            report.fail(f"the load stopped: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - one sentence on the verdict, never a traceback
            report.fail(f"the load died: {type(exc).__name__}: {_sentence(exc)}")
        if report.load is None:
            clock.note("load", report.failure or "the load stopped")
            return
        report.tally = LoadTally.of(report.load)
        clock.note("load", f"load finished: {report.tally}")

    thread = threading.Thread(target=work, name="chaos-load", daemon=True)
    clock.note("load", f"load of {orders} orders started (users, stock, then the orders)")
    thread.start()
    started = time.monotonic()
    deadline = started + (after if after is not None else LOAD_START_WAIT)
    while thread.is_alive() and time.monotonic() < deadline:
        latest = flight.latest
        if after is None and latest is not None and latest.phase == "sending" and latest.accepted:
            return thread
        time.sleep(0.1)
    if after is not None and thread.is_alive():
        return thread
    if thread.is_alive():
        report.fail(
            f"the load had no order accepted within {LOAD_START_WAIT:.0f} s, so no fault was "
            "injected (see `kafkalab ps`)"
        )
    elif report.load is None:
        report.fail(report.failure or "the load stopped before any order was accepted")
    # A load that ended before the first accepted order was seen (a tiny one) still counts.
    return thread
