"""Lesson 19's break: the learner pauses notification themselves and watches their alert's life
on a real Prometheus — inactive, pending, firing — beside the shipped rules.

The grader starts a Prometheus of the lesson's own over the platform's targets with the
learner's rules and alerts.yml (scrape and evaluation every INTERVAL s), waits for the typed
`kafkalab chaos pause notification --no-load` and for the process to be stopped, then places
orders (a bare pause runs no load) and reads Prometheus' alerts API every POLL s until the
learner's alert fires for notification's group. It then wakes notification (SIGCONT) and waits
until the group has caught up, so the shared platform is healthy again.

What fired and when is Prometheus' own answer (its `activeAt`, the state it reports); how far
the group fell behind is read from the broker (committed offsets against end offsets).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafkalab import processes
from kafkalab.chaos import faults, paused
from kafkalab.curriculum import breaks
from kafkalab.curriculum import prometheus as own
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.load import shop
from kafkalab.monitoring import prometheus_api
from kafkalab.monitoring.rules import Alert, Rule, default_rule_file
from kafkalab.observe.lag import group_lag
from kafkalab.verdict import Check

from . import grade as lesson

INTERVAL = 2.0  # the lesson Prometheus' scrape and evaluation interval (the shop's: 5 s)
POLL = 0.5  # how often the grader asks Prometheus
PAUSE_WAIT = 45.0  # for the typed command to stop the process (it first waits for the member)
SLACK = 1.0  # seconds of polling and scheduling the "when" truth allows beyond for: + interval
AFTER_FOR = 30.0  # how long past the longest `for:` the grader keeps the pause going
WARM = 3  # order-events partitions notification's group must have committed on first

NAME = "Prometheus stays quiet while notification is paused"
STOPPED = "notification is stopped (SIGSTOP), as the command asked"

YOURS = "your rule, for kafkalab-notification"
DOWN = "KafkalabServiceDown: notification does not answer its scrape"
SHIPPED_LAG = "KafkalabConsumerLag, the shipped lag rule"
AT_ONCE = "at the first evaluation that sees the lag"
AFTER = "once the expression has held for its for:, give or take one evaluation interval"
LATER = "later than that: only after several evaluation intervals more"


@dataclass
class Seen:
    """What Prometheus said about the pause, in seconds since the process was seen stopped."""

    first_fired: dict[str, float] = field(default_factory=dict)  # choice → first seen firing
    pending_at: float | None = None  # the learner's alert's activeAt
    fired_at: float | None = None  # first poll that saw it firing
    fired: Alert | None = None
    for_seconds: float = 0.0
    behind: int = 0  # the group's peak lag, from the broker
    polls: int = 0
    down: str = "inactive"  # KafkalabServiceDown for notification, at its most advanced


def grade_break(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    written = lesson._written_rules(task)
    if isinstance(written, Graded):
        return written
    rule_file, rules = written
    checks = [Check("your rule file loads", True, f"{len(rules)} alerting rule(s)")]
    folder = rule_file.parent / "prometheus"
    with own.running(lab.settings, folder, [rule_file, default_rule_file()], INTERVAL) as prom:
        lab.say(
            f"a Prometheus of this lesson's own evaluates your rules and the shop's every "
            f"{INTERVAL:g} s: watch {prom.url}/alerts"
        )
        _warm_up(lab, task)
        breaks.await_command(lab)
        target = faults.resolve(lab.settings, lesson.PAUSED)
        pid = faults.service_pid(lab.settings, target)
        try:
            stopped = _stopped(pid)
            checks.append(
                Check(
                    STOPPED,
                    stopped,
                    f"{target.label} (pid {pid}) stopped"
                    if stopped
                    else f"{target.label} (pid {pid}) was not stopped within {PAUSE_WAIT:g} s",
                    None if stopped else "see what the chaos command printed in its terminal",
                )
            )
            if not stopped:
                return Graded(checks)
            seen = _watch(lab, task, prom, rules)
        finally:
            # SIGCONT in any case: the platform is shared with other lessons and tests.
            if processes.is_paused(pid):
                faults.inject(lab.settings, "resume", target)
            paused.forget(lab.settings, target.label)
        lesson.wait_caught_up(lab)
    checks.append(_quiet(seen))
    return Graded(checks, _truths(seen))


def _warm_up(lab: Lab, task: Task) -> None:
    """Lag is counted from a committed offset: on a fresh shop notification's group has
    committed on no partition yet, so a few orders first, until it has on WARM partitions and
    caught up (a shop that has served orders needs none)."""
    orders = shop.OrderClient(lab.settings)
    try:
        for _ in range(3):
            if len(_partitions(lab)) >= WARM:
                break
            lesson.place(orders, task.private["buyers"], lesson.BATCH)
            lesson.wait_caught_up(lab)
    finally:
        orders.close()
    lesson.wait_caught_up(lab)


def _partitions(lab: Lab) -> list[int]:
    return [p.partition for g in group_lag(lab.conn, [lesson.GROUP]) for p in g.partitions]


def _stopped(pid: int) -> bool:
    deadline = time.monotonic() + PAUSE_WAIT
    while time.monotonic() < deadline:
        if processes.is_paused(pid):
            return True
        time.sleep(0.2)
    return False


def _watch(lab: Lab, task: Task, prom: own.OwnPrometheus, rules: list[Rule]) -> Seen:
    """Orders in, Prometheus' alerts out, until the learner's alert fires for the group (or
    the pause has outlasted the longest `for:` by AFTER_FOR)."""
    names = {r.name for r in rules}
    seen = Seen(for_seconds=max(r.for_seconds for r in rules))
    orders = shop.OrderClient(lab.settings)
    buyers: list[shop.Customer] = task.private["buyers"]
    start = time.monotonic()
    placed = 0
    try:
        while time.monotonic() - start < seen.for_seconds + AFTER_FOR:
            if seen.behind < lesson.BEHIND and placed < lesson.MAX_ORDERS:
                # two batches at first: one alone leaves a healthy-looking ~50 records
                placed += lesson.place(orders, buyers, lesson.BATCH * (1 if placed else 2))
            seen.behind = max(seen.behind, _lag(lab))
            _read(prom, names, seen, start)
            if seen.fired is not None:
                break
            time.sleep(POLL)
    finally:
        orders.close()
    return seen


def _lag(lab: Lab) -> int:
    return sum(g.total for g in group_lag(lab.conn, [lesson.GROUP]))


def _read(prom: own.OwnPrometheus, names: set[str], seen: Seen, start: float) -> None:
    """One answer of Prometheus' rules API, noted into `seen`."""
    try:
        alerts = prometheus_api.alerts(prom.url)
    except prometheus_api.PrometheusUnreachable:
        return
    now = time.monotonic()
    seen.polls += 1
    for alert in alerts:
        choice = _choice(alert, names)
        if choice is None:
            continue
        if alert.rule == "KafkalabServiceDown" and alert.state != "inactive":
            seen.down = "firing" if alert.state == "firing" or seen.down == "firing" else "pending"
        if choice == YOURS and seen.pending_at is None and alert.state != "inactive":
            seen.pending_at = max(now - alert.active_for - start, 0.0)
        if alert.state == "firing":
            seen.first_fired.setdefault(choice, now - start)
            if choice == YOURS and seen.fired is None:
                seen.fired, seen.fired_at = alert, now - start


def _choice(alert: Alert, names: set[str]) -> str | None:
    """Which answer of the "which" question this alert is, when it is about notification."""
    if alert.rule in names and alert.labels.get("group") == lesson.GROUP:
        return YOURS
    if alert.rule == "KafkalabServiceDown" and alert.labels.get("endpoint") == lesson.PAUSED:
        return DOWN
    if alert.rule == "KafkalabConsumerLag" and alert.labels.get("group") == lesson.GROUP:
        return SHIPPED_LAG
    return None


def _quiet(seen: Seen) -> Check:
    if seen.fired is None or seen.fired_at is None:
        return Check(
            NAME,
            True,
            f"no rule of yours fired for {lesson.GROUP} in {seen.polls} answers of Prometheus, "
            f"while the group fell {seen.behind} records behind (read from the broker)",
        )
    pending = "" if seen.pending_at is None else f", pending from {seen.pending_at:.0f} s"
    return Check(
        NAME,
        False,
        f"{seen.fired.rule} fired for {lesson.GROUP} on Prometheus {seen.fired_at:.0f} s after "
        f"the pause{pending} (for: {seen.for_seconds:g}s); the broker had the group "
        f"{seen.behind} records behind",
        "that is the alert doing its job: `kafkalab lesson 19` grades the rule itself",
    )


def _truths(seen: Seen) -> dict[str, str]:
    found: dict[str, str] = {"down": seen.down, "interval": f"{INTERVAL:g}"}
    found["for_"] = f"{seen.for_seconds:g}s"
    found["behind"] = str(seen.behind)
    if seen.first_fired:
        found["which"] = min(seen.first_fired, key=lambda c: seen.first_fired[c])
    if seen.fired_at is not None:
        found["fired_after"] = f"{seen.fired_at:.0f}"
        found["pending_after"] = f"{seen.pending_at or 0.0:.0f}"
        delay = seen.fired_at - (seen.pending_at or 0.0)
        limit = seen.for_seconds + INTERVAL + SLACK
        quick = AT_ONCE if seen.for_seconds < INTERVAL else AFTER
        found["when"] = quick if delay <= limit else LATER
    return found
