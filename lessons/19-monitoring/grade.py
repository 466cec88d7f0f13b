"""Lesson 19's grader: runs the learner's file, which writes their rule file, then evaluates
that file with kafkalab's own rule engine against the running platform's real /metrics, the way
`kafkalab alerts --watch` does: first while orders flow through healthy services (the alert must
stay quiet), then with notification paused (SIGSTOP) while orders keep coming (it must fire for
notification's group before the pause ends). Notification is resumed in any case, and the
grader waits until it has caught up, so the shared platform is healthy for whoever comes next.

The lag comes from the platform endpoint, which reads committed and end offsets from the broker
at each scrape; nothing the learner's program says about itself is graded.

`--break` (`grade_break`): the learner pulls the trigger. Their rules and the shipped alerts.yml
are loaded into a real Prometheus of the lesson's own (scrape and evaluation every 2 s); once
the learner has typed `kafkalab chaos pause notification --no-load` and the process is seen
stopped, the grader places orders and reads Prometheus' alerts API until their alert fires for
notification's group, then wakes notification. What fired, and when, is Prometheus' own
answer; the lag is the broker's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from kafkalab.catalogue.services import group_id
from kafkalab.chaos import faults
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab, LessonSetupFailed
from kafkalab.load import shop
from kafkalab.load.plan import LoadPlan
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.rules import Alert, AlertEngine, Rule, RuleFileError, load_rules
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control
from kafkalab.verdict import Check

PAUSED = "notification"
GROUP = group_id(PAUSED)  # kafkalab-notification, on order-events
SKU = "SKU-STICKER"
HEALTHY = 6  # evaluations while healthy, one order placed before each
BEHIND = 100  # records notification's group is pushed behind while paused (the docstring's)
HOLD = 15.0  # seconds the pause goes on once the group is BEHIND (the docstring's)
BATCH = 12  # orders placed before each evaluation while paused, until BEHIND
MAX_ORDERS = 80  # a ceiling, should the lag not grow
EVERY = 1.0  # seconds between healthy evaluations (paused, its 2 s scrape timeout paces them)

SERVICE_DOWN = "KafkalabServiceDown: notification stops answering its scrape"
NO_OTHER = "none: a paused process still answers its scrape"
BROKER_SIDE = "kafkalab_consumergroup_lag, which the platform reads from the broker"
SERVICE_SIDE = "kafkalab_consumer_lag, from notification's own /metrics"
BOTH = "both"


@dataclass
class Phase:
    """What every evaluation of one phase showed."""

    states: list[str] = field(default_factory=list)  # the learner's alert for GROUP
    fired: list[Alert] = field(default_factory=list)  # any of their alerts firing
    lag: list[int] = field(default_factory=list)  # GROUP's summed lag, same scrape
    shipped: set[str] = field(default_factory=set)  # shipped rules active for notification
    own_lag_seen: bool = False  # did notification's own kafkalab_consumer_lag answer
    seconds: float = 0.0


def prepare(lab: Lab) -> Task:
    folder = lab.settings.data_dir / "lessons-state" / "19-monitoring"
    folder.mkdir(parents=True, exist_ok=True)
    rule_file = folder / "rules.yml"
    rule_file.unlink(missing_ok=True)  # a file left by an earlier run must not be graded
    with httpx.Client(timeout=30) as http:
        buyers = shop.customers(lab.settings, http, LoadPlan(orders=1, users=2))
        # the break places up to 3 batches more to warm notification's group up
        shop.top_up_stock(lab.settings, http, {SKU: HEALTHY + MAX_ORDERS + 3 * BATCH + 10})
    return Task(
        topics={},
        groups={"paused": GROUP},
        params={"rule_file": str(rule_file), "paused": PAUSED, "behind": BEHIND, "hold": HOLD},
        private={"buyers": buyers},
    )


def _written_rules(task: Task) -> tuple[Path, list[Rule]] | Graded:
    """The learner's rule file and its rules, or the verdict that says why there are none."""
    rule_file = Path(task.params["rule_file"])
    if not rule_file.is_file():
        return Graded(
            [
                Check(
                    "your program wrote its rule file",
                    False,
                    f"nothing at {rule_file}",
                    "keep the line that writes RULES to `lab.params['rule_file']`",
                )
            ]
        )
    blank = _blank_expressions(rule_file)
    if blank:
        return Graded(
            [
                Check(
                    "your rule has an expression",
                    False,
                    f"`expr:` of {', '.join(blank)} is empty: it cannot say who is behind yet",
                    "write a PromQL expression that returns one sample per group that is "
                    "behind: the broker-side lag, summed by group, compared with a threshold",
                )
            ]
        )
    try:
        rules = load_rules(rule_file)
    except RuleFileError as error:
        return Graded([Check("your rule file loads", False, str(error), _LOADS_FIX)])
    if not rules:
        return Graded(
            [Check("your rule file loads", False, "it holds no alerting rule", _LOADS_FIX)]
        )
    return rule_file, rules


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    written = _written_rules(task)
    if isinstance(written, Graded):
        return written
    rule_file, rules = written
    checks = [Check("your rule file loads", True, f"{len(rules)} alerting rule(s)")]
    live = LiveAlerts(control.scrape_targets(lab.settings), rule_file)
    shipped = AlertEngine(load_rules())  # alerts.yml, evaluated on the same scrapes
    orders = shop.OrderClient(lab.settings)
    buyers: list[shop.Customer] = task.private["buyers"]
    try:
        wait_caught_up(lab)
        healthy = _healthy(live, shipped, orders, buyers)
        checks.append(_quiet(healthy))
        if not checks[-1].ok:  # it would fire on a healthy platform: no need to pause
            return Graded(checks)
        paused = _paused(lab, live, shipped, orders, buyers)
    finally:
        orders.close()
    checks.append(_fired(paused))
    return Graded(checks, _truths(paused))


def grade_break(lab: Lab, task: Task, program: Program) -> Graded:
    """`kafkalab lesson 19 --break`: breaking.py (imported here, as it reads this module)."""
    from . import breaking

    return breaking.grade_break(lab, task, program)


def _blank_expressions(rule_file: Path) -> list[str]:
    """The alerts whose `expr:` is left empty (the untouched file's); load_rules judges the rest."""
    try:
        document = yaml.safe_load(rule_file.read_text())
        return [
            str(rule.get("alert"))
            for group in document["groups"]
            for rule in group["rules"]
            if rule.get("alert") and not str(rule.get("expr") or "").strip()
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return []  # load_rules says what is wrong with the file


def _healthy(
    live: LiveAlerts, shipped: AlertEngine, orders: shop.OrderClient, buyers: list[shop.Customer]
) -> Phase:
    phase, started = Phase(), time.monotonic()
    for _ in range(HEALTHY):
        place(orders, buyers, 1)
        _evaluate(live, shipped, phase)
        if phase.fired:
            break
        time.sleep(EVERY)
    phase.seconds = time.monotonic() - started
    return phase


def _paused(
    lab: Lab,
    live: LiveAlerts,
    shipped: AlertEngine,
    orders: shop.OrderClient,
    buyers: list[shop.Customer],
) -> Phase:
    phase, started = Phase(), time.monotonic()
    target = faults.resolve(lab.settings, PAUSED)
    faults.inject(lab.settings, "pause", target)
    try:
        placed, behind_at = 0, None
        deadline = started + 60  # reaching BEHIND: a few seconds on a quiet machine
        while time.monotonic() < (behind_at + HOLD if behind_at else deadline):
            if behind_at is None and placed < MAX_ORDERS:
                placed += place(orders, buyers, BATCH)
            _evaluate(live, shipped, phase)
            if behind_at is None and phase.lag[-1] >= BEHIND:
                behind_at = time.monotonic()
            if any(a.labels.get("group") == GROUP for a in phase.fired):
                break
        phase.seconds = time.monotonic() - started
    finally:
        # SIGCONT in any case: the platform is shared with other lessons and tests.
        faults.inject(lab.settings, "resume", target)
    wait_caught_up(lab)
    return phase


def _evaluate(live: LiveAlerts, shipped: AlertEngine, phase: Phase) -> None:
    """One scrape of every target, the learner's rules and the shipped ones evaluated on it."""
    alerts = live.sample()
    mine = [a for a in alerts if a.labels.get("group") == GROUP]
    phase.states.append(mine[0].state if mine else "inactive")
    phase.fired += [a for a in alerts if a.state == "firing"]
    history = live.history
    phase.lag.append(
        int(
            sum(
                v
                for labels, v in history.instant("kafkalab_consumergroup_lag")
                if ("group", GROUP) in labels
            )
        )
    )
    phase.own_lag_seen = phase.own_lag_seen or any(
        ("endpoint", PAUSED) in labels for labels, _ in history.instant("kafkalab_consumer_lag")
    )
    for alert in shipped.evaluate(history, history.now):
        if alert.state != "inactive" and PAUSED in alert.labels.values():
            phase.shipped.add(alert.rule)


def _quiet(healthy: Phase) -> Check:
    first = healthy.fired[0] if healthy.fired else None
    return Check(
        "your alert stays quiet while the platform is healthy",
        first is None,
        f"{len(healthy.states)} evaluations in {healthy.seconds:.0f} s with orders flowing, "
        "none firing"
        if first is None
        else f"{first.rule}{_labels(first.labels)} fired on a healthy platform, value "
        f"{first.value:g} (held {first.active_for:.0f} s)",
        None
        if first is None
        else "a healthy group is a few dozen records behind between two commits: raise the "
        "threshold above that (and under 100), or give `for:` a few seconds to ride it out",
    )


def _fired(paused: Phase) -> Check:
    ours = next((a for a in paused.fired if a.labels.get("group") == GROUP), None)
    other = paused.fired[0] if paused.fired else None
    peak = max(paused.lag, default=0)
    if ours is not None:
        detail = (
            f"{ours.rule} fired for {GROUP} {_after(paused)}, value {ours.value:g}, "
            f"held {ours.active_for:.0f} s"
        )
        return Check(f"your alert fires while {PAUSED} is paused", True, detail)
    if other is not None:
        return Check(
            f"your alert fires while {PAUSED} is paused",
            False,
            f"{other.rule}{_labels(other.labels)} fired, but no alert named the group {GROUP}",
            "keep the `group` label in the result: sum the lag `by (group)`, so the page says "
            "which group is behind",
        )
    held = paused.states.count("pending")
    detail = (
        f"pending at {held} of {len(paused.states)} evaluations but never firing "
        f"({GROUP} was {peak} records behind): `for:` outlasted the pause"
        if held
        else f"never active in {len(paused.states)} evaluations over {paused.seconds:.0f} s, "
        f"while {GROUP} fell {peak} records behind"
    )
    return Check(
        f"your alert fires while {PAUSED} is paused",
        False,
        detail,
        "make `for:` shorter than the pause (a few seconds)"
        if held
        else "sum the broker-side lag per group (`sum by (group) "
        "(kafkalab_consumergroup_lag)`) and compare it with a threshold under 100; then a "
        "`for:` of a few seconds",
    )


def _truths(paused: Phase) -> dict[str, str]:
    also = SERVICE_DOWN if "KafkalabServiceDown" in paused.shipped else NO_OTHER
    broker_side = max(paused.lag, default=0) > 0
    seen = (
        BOTH
        if broker_side and paused.own_lag_seen
        else SERVICE_SIDE
        if paused.own_lag_seen
        else BROKER_SIDE
    )
    return {"also": also, "who": seen}


def _after(phase: Phase) -> str:
    return f"at evaluation {len(phase.states)} of the pause ({phase.seconds:.0f} s in)"


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


def place(orders: shop.OrderClient, buyers: list[shop.Customer], count: int) -> int:
    """`count` orders through the order service's HTTP API; how many it accepted."""
    placed = [orders.place(buyers[i % len(buyers)], SKU) for i in range(count)]
    return sum(1 for p in placed if p.order_id)


def wait_caught_up(lab: Lab, timeout: float = 90) -> None:
    """Until notification's group has no lag: the healthy phase starts from a healthy group,
    and the next user of the shared platform finds it so too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(g.total for g in group_lag(lab.conn, [GROUP])) == 0:
            return
        time.sleep(0.5)
    raise LessonSetupFailed(f"{GROUP} did not catch up within {timeout:g} s")


_LOADS_FIX = (
    "RULES must be a Prometheus rule file: `groups:`, each with `rules:`, each an `alert:` with "
    "an `expr:` in the PromQL kafkalab evaluates (selectors, sum by, comparisons)"
)
