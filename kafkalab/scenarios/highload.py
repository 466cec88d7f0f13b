"""`kafkalab scenario high-load`: a load-driven scenario, in Python rather than TOML steps.

While the load driver (kafkalab.load.driver) pushes N orders through the real pipeline:
1. a gateway failure burst hits every payment replica, and its circuit breaker opens
   (nothing reaches the gateway; payments wait on payments.retry) and then closes through a
   half-open probe once the burst is over;
2. payment is scaled to 3 replicas, and the group's rebalance shows: who owned which
   partitions and the lag, before and after;
3. the supervisor's lag-based autoscaler is on, and any step it takes is shown.
A watcher thread puts each of these on a timeline, like chaos does. The run ends with the
invariant checker: orders that failed payment during the burst must still have ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafkalab import verdict
from kafkalab.catalogue.services import group_id
from kafkalab.chaos import burst, watch
from kafkalab.chaos.runner import TimelineEntry
from kafkalab.connection import Connection
from kafkalab.events.serde import now_ms
from kafkalab.load.driver import Progress, run_load
from kafkalab.load.report import LoadReport
from kafkalab.observe.lag import group_lag
from kafkalab.observe.verify import VerifyReport, verify_orders
from kafkalab.platform import autoscaler, control, files
from kafkalab.platform.scaling import Policy
from kafkalab.settings import Settings
from kafkalab.verdict import Check

Notify = Callable[[str], None]
OnProgress = Callable[[Progress, list[tuple[str, str]]], None]
PAYMENT_GROUP = group_id("payment")
POLL = 0.5


@dataclass(frozen=True)
class HighLoadPlan:
    orders: int = 2000
    rate: float | None = None
    """Orders per second to aim for; None: as fast as the platform takes them."""
    scale_to: int = 3
    burst_seconds: float = 3.0
    """Shorter than the breaker's 5 s cool-down, so its half-open probe finds the gateway well."""
    burst_at: float = 0.2
    """Share of the orders sent when the burst starts."""
    scale_at: float = 0.4
    """Share of the orders sent (and the burst over) when payment is scaled."""
    autoscale: Policy = field(default_factory=Policy)
    """Used when the autoscaler is off; one switched on with `up --autoscale` is kept as is."""
    rebalance_timeout: float = 90.0
    breaker_timeout: float = 30.0


@dataclass
class GroupPicture:
    """The payment group at one moment: who owns which partitions, and its lag."""

    members: dict[str, list[str]]
    lag: int


@dataclass
class HighLoadReport:
    plan: HighLoadPlan
    seconds: float = 0.0
    timeline: list[TimelineEntry] = field(default_factory=list)
    before: GroupPicture | None = None
    after: GroupPicture | None = None
    circuit: list[burst.CircuitChange] = field(default_factory=list)
    autoscaler: list[dict[str, Any]] = field(default_factory=list)
    load: LoadReport | None = None
    checks: list[Check] = field(default_factory=list)
    verify: VerifyReport | None = None

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks) and self.verify is not None and self.verify.passed


class _Clock:
    def __init__(self, report: HighLoadReport, notify: Notify) -> None:
        self.start = time.monotonic()
        self.report, self.notify = report, notify
        self.lock = threading.Lock()

    def note(self, kind: str, detail: str) -> None:
        entry = TimelineEntry(round(time.monotonic() - self.start, 2), kind, detail)
        with self.lock:
            self.report.timeline.append(entry)
        self.notify(f"+{entry.at_s:6.2f} s  {kind:<9} {detail}")


def picture(conn: Connection) -> GroupPicture:
    lags = group_lag(conn, [PAYMENT_GROUP])
    return GroupPicture(watch.group_assignment(conn, PAYMENT_GROUP), lags[0].total if lags else 0)


class _Watcher(threading.Thread):
    """Puts rebalances, breaker transitions and autoscaler steps on the timeline as they happen."""

    def __init__(self, settings: Settings, conn: Connection, clock: _Clock, since: float) -> None:
        self.conn = conn
        super().__init__(name="high-load-watch", daemon=True)
        self.settings, self.clock, self.since = settings, clock, since
        self.stopping = threading.Event()
        self.circuit: list[burst.CircuitChange] = []
        self.steps: list[dict[str, Any]] = []
        self.circuits: dict[int, str] = {}
        self.members = 0

    def run(self) -> None:
        group = watch.group_snapshot(self.conn, PAYMENT_GROUP)
        self.members = len(group.members)
        while not self.stopping.wait(POLL):
            try:
                group = self._group(group)
                self._breakers()
                self._autoscaler()
            except Exception as exc:  # noqa: BLE001 - the watcher must not end the scenario
                self.clock.note("note", f"watcher: {exc}")

    def _group(self, before: watch.GroupSnapshot) -> watch.GroupSnapshot:
        after = watch.group_snapshot(self.conn, PAYMENT_GROUP)
        change = watch.describe_group_change(before, after)
        if change:
            self.clock.note("rebalance", change)
        self.members = len(after.members)
        return after

    def _breakers(self) -> None:
        health = burst.circuits(self.settings)
        self.circuits = {r: str(body.get("circuit")) for r, body in health.items()}
        known = set(self.circuit)
        for change in burst.changes_since(health, self.since):
            if change not in known:
                self.circuit.append(change)
                self.clock.note(
                    "circuit", f"payment-{change.replica}: {change.before} → {change.after}"
                )

    def _autoscaler(self) -> None:
        state = autoscaler.read_state(self.settings)
        for step in state.decisions:
            if step["at"] >= self.since and step not in self.steps:
                self.steps.append(step)
                self.clock.note(
                    "autoscale",
                    f"{step['service']} {step['replicas']} → {step['target']}: {step['reason']}",
                )


def run(
    settings: Settings,
    conn: Connection,
    plan: HighLoadPlan,
    progress: OnProgress | None = None,
    notify: Notify | None = None,
) -> HighLoadReport:
    """Run the scenario on the running platform (see the module docstring) and judge it."""
    say = notify or (lambda _m: None)
    show = progress or (lambda _p, _x: None)
    report = HighLoadReport(plan)
    began = time.monotonic()
    if files.read_desired(settings).get("payment", 0) != 1:
        say("payment back to 1 replica, so the scale-out shows")
        control.scale(settings, "payment", 1)
    # The autoscaler as the user set it up (`up --autoscale --lag-threshold …`), else ours.
    previous_policy = autoscaler.read_policy(settings)
    policy = previous_policy or plan.autoscale
    control.set_autoscale(settings, policy)
    clock = _Clock(report, say)
    since = time.time()
    since_ms = now_ms()
    watcher = _Watcher(settings, conn, clock, since)
    watcher.start()
    clock.note(
        "note",
        f"autoscaler on (lag > {policy.lag_threshold} for "
        f"{policy.sustain_seconds:g} s); {plan.orders:,} orders",
    )
    latest: list[Progress] = [Progress("setup", planned=plan.orders)]

    def extras() -> list[tuple[str, str]]:
        circuits = ", ".join(f"#{r} {s}" for r, s in sorted(watcher.circuits.items()))
        last = report.timeline[-1] if report.timeline else None
        return [
            ("payment members", str(watcher.members)),
            ("circuit", circuits or "—"),
            ("autoscaler", f"{len(watcher.steps)} step(s)"),
            ("last event", f"+{last.at_s:.1f} s {last.kind}: {last.detail}" if last else "—"),
        ]

    def on_progress(p: Progress) -> None:
        latest[0] = p
        show(p, extras())

    result: dict[str, Any] = {}

    def drive() -> None:
        try:
            result["load"] = run_load(
                settings, conn, orders=plan.orders, rate=plan.rate, progress=on_progress
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised on the scenario's thread
            result["error"] = exc

    load_thread = threading.Thread(target=drive, name="high-load", daemon=True)
    load_thread.start()
    clock.note("load", f"load of {plan.orders:,} orders started")
    try:
        _choreograph(settings, conn, plan, report, clock, latest, load_thread)
        load_thread.join()
        if "error" in result:
            raise result["error"]
        report.load = result["load"]
        clock.note("load", f"load finished: {report.load.orders_per_s:,.1f} orders/s")
        _await_breakers(plan, watcher, clock)
    finally:
        watcher.stopping.set()
        watcher.join(10)
        control.set_autoscale(settings, previous_policy)
    report.circuit, report.autoscaler = watcher.circuit, watcher.steps
    clock.note("note", "running the invariant checker over every order since the start")
    report.verify = verify_orders(conn, None, since_ms=since_ms, settle_seconds=30)
    report.checks = _checks(plan, report)
    report.seconds = round(time.monotonic() - began, 1)
    return report


def _choreograph(
    settings: Settings,
    conn: Connection,
    plan: HighLoadPlan,
    report: HighLoadReport,
    clock: _Clock,
    latest: list[Progress],
    load_thread: threading.Thread,
) -> None:
    """The burst at `burst_at` of the orders sent, the scale-out at `scale_at` (burst over)."""

    def sent_share() -> float:
        return latest[0].sent / plan.orders

    while sent_share() < plan.burst_at and load_thread.is_alive():
        time.sleep(0.1)
    if not load_thread.is_alive():  # it failed (the caller re-raises) or was tiny: judged so
        clock.note("note", "the load ended before the burst was due: no burst, no scale-out")
        return
    replicas = burst.inject(settings, plan.burst_seconds)
    burst_over = time.monotonic() + plan.burst_seconds
    clock.note(
        "fault",
        f"gateway failing 100% for {plan.burst_seconds:g} s on payment "
        f"{', '.join(f'#{r}' for r in replicas)} ({latest[0].sent:,} orders sent)",
    )
    while (sent_share() < plan.scale_at or time.monotonic() < burst_over) and (
        load_thread.is_alive()
    ):
        time.sleep(0.1)
    report.before = picture(conn)
    current = files.read_desired(settings).get("payment", 1)
    target = max(plan.scale_to, current)
    clock.note(
        "scale",
        f"payment {current} → {target} replicas; before: {_describe(report.before)}",
    )
    control.scale(settings, "payment", target, timeout=plan.rebalance_timeout)
    clock.note("scale", f"{target} payment replicas healthy; waiting for the group to settle")
    # A cooperative rebalance is two rounds: the first revokes what moves (and the group is
    # briefly STABLE with those partitions unowned), the second hands them to the newcomers.
    # Settled = STABLE, every member in, and every partition owned again.
    wanted = {p for parts in report.before.members.values() for p in parts}
    deadline = time.monotonic() + plan.rebalance_timeout
    while True:
        state = watch.group_snapshot(conn, PAYMENT_GROUP)
        after = picture(conn)
        owned = {p for parts in after.members.values() for p in parts}
        settled = state.state == "STABLE" and len(after.members) >= target and owned >= wanted
        if settled or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    report.after = after
    clock.note("rebalance", f"after: {_describe(after)}")


def _describe(group: GroupPicture) -> str:
    owners = ", ".join(f"{m} {len(parts)}" for m, parts in group.members.items()) or "no members"
    return f"partitions by member: {owners}; lag {group.lag:,}"


def _await_breakers(plan: HighLoadPlan, watcher: _Watcher, clock: _Clock) -> None:
    """A breaker closes only on a probe; retries of the burst's payments provide one soon."""
    deadline = time.monotonic() + plan.breaker_timeout
    while time.monotonic() < deadline:
        opened = any(c.after == "open" for c in watcher.circuit)
        if not opened or all(state == "closed" for state in watcher.circuits.values()):
            return
        time.sleep(POLL)
    clock.note("note", f"a breaker was not closed {plan.breaker_timeout:g} s after the load")


def _checks(plan: HighLoadPlan, report: HighLoadReport) -> list[Check]:
    after = report.after.members if report.after else {}
    busy = [m for m, parts in after.items() if parts]
    opened = [c for c in report.circuit if c.after == "open"]
    closed = [c for c in report.circuit if c.after == "closed" and opened and c.at > opened[0].at]
    load = report.load
    accepted = (load.orders.accepted + load.failing.accepted) if load else 0
    return [
        Check(
            "payment scaled out",
            len(busy) >= plan.scale_to,
            f"{len(after)} members, {len(busy)} owning partitions"
            + (f" (before: {len(report.before.members)})" if report.before else ""),
        ),
        Check(
            "breaker opened under the burst",
            bool(opened),
            f"{len(opened)} replica(s) opened" if opened else "no breaker opened",
        ),
        Check(
            "breaker closed after",
            bool(closed),
            "closed again after a half-open probe" if closed else "no breaker closed again",
        ),
        Check(
            "every order ended",
            bool(load and load.all_terminal),
            f"{accepted:,} accepted, {load.lost if load else '?'} lost",
        ),
    ]
