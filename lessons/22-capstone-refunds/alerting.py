"""Lesson 22's alert check: the learner's ALERT_RULE, evaluated by kafkalab's own evaluator
(`kafkalab alerts`' AlertEngine and PromQL subset) over the refund service's scraped /metrics.

The grader restarts the service once more (a fresh process: its counters start at 0, nothing
is left to dead-letter), scrapes it while it is quiet — the rule must stay inactive — then
sends one poison record and keeps scraping: once the broker holds the poison on the DLT, the
rule must fire (pending first is fine, with a `for:` of a few seconds). Whether the poison has
reached the DLT is read from the broker (the DLT's end offset), never from the counter.
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kafkalab.monitoring import promql
from kafkalab.monitoring.rules import AlertEngine, Rule, RuleFileError, format_value, parse_rules
from kafkalab.monitoring.scrape import History, Scrape, Target, parse_into, scrape_one

__all__ = ["AlertEngine", "Rule", "Scrape", "Target", "Watch", "judge", "load", "parse_into"]
from kafkalab.verdict import Check

NAME = "ALERT_RULE fires once a poison record reaches the DLT, not before"
VARIABLE = "ALERT_RULE"
COUNTER = "refunds_dead_letters_total"  # the skeleton's Counter("refunds_dead_letters", …)
LONGEST_FOR = 10.0  # seconds of `for:` the grader waits out after the poison
EXAMPLE = f"increase({COUNTER}[5m]) > 0"
FIX = (
    f"one rule under groups: → rules:, whose expr is true once {COUNTER} rose, e.g. "
    f"`expr: {EXAMPLE}` (for: 0s, or a few seconds)"
)


def rule_text(file: Path) -> str:
    """The string assigned to ALERT_RULE at the top level of the learner's file, read without
    running it; raises ValueError saying why there is none."""
    tree = ast.parse(file.read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        value = getattr(node, "value", None)
        if any(isinstance(t, ast.Name) and t.id == VARIABLE for t in targets):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
            raise ValueError(f'{VARIABLE} is not a plain string ("""…""") in {file.name}')
    raise ValueError(f'{file.name} has no top-level {VARIABLE} = """…"""')


def load(file: Path) -> list[Rule] | str:
    """The learner's rules, or one sentence saying why they cannot be read."""
    try:
        rules = parse_rules(yaml.safe_load(rule_text(file)), VARIABLE)
    except (OSError, SyntaxError, ValueError) as exc:
        return str(exc)
    except yaml.YAMLError as exc:
        return f"{VARIABLE} is not valid YAML: {' '.join(str(exc).split())}"
    except RuleFileError as exc:
        return exc.message
    except (AttributeError, TypeError):  # a group or a rule that is not a mapping
        return f"{VARIABLE}'s rules: must be mappings with alert:, expr: (and for:, labels:)"
    if not rules:
        return f"{VARIABLE} holds no rule under groups: → rules:"
    return rules


@dataclass
class Watch:
    """The rules' states over the alert phase's scrapes."""

    target: Target
    engine: AlertEngine
    history: History = field(default_factory=lambda: History(keep=600))
    before: dict[str, str] = field(default_factory=dict)  # rule → what it did while quiet
    after: dict[str, str] = field(default_factory=dict)  # rule → its best state after
    exposed: set[str] = field(default_factory=set)  # every sample name /metrics served
    counter: float | None = None  # COUNTER's last value after the poison (for messages)
    answered: bool = False

    def scrape(self) -> bool:
        """One scrape into the history; False when /metrics did not answer."""
        text = scrape_one(self.target)
        sample = Scrape(time.time())
        parse_into(sample, self.target, text)
        self.history.add(sample)
        if text is None:
            return False
        self.answered = True
        self.exposed |= set(sample.series) - {"up"}
        return True

    def quiet(self) -> None:
        """Evaluate while no poison has reached the DLT in this process: any rule that is not
        inactive is noted."""
        exprs = {r.name: r.expr_text for r in self.engine.rules}
        for alert in self.engine.evaluate(self.history, self.history.now):
            if alert.state != "inactive" and alert.rule not in self.before:
                value = format_value(alert.value)
                said = f"{alert.rule} was {alert.state}: `{exprs[alert.rule]}` gave {value}"
                self.before[alert.rule] = said

    def poisoned(self) -> bool:
        """Evaluate after the poison reached the DLT; True once some rule fires."""
        ranks = {"inactive": 0, "pending": 1, "firing": 2}
        for alert in self.engine.evaluate(self.history, self.history.now):
            best = self.after.get(alert.rule, "inactive")
            if ranks[alert.state] > ranks[best]:
                self.after[alert.rule] = alert.state
        values = [v for _, v in self.history.instant(COUNTER)]
        self.counter = max(values) if values else None
        return "firing" in self.after.values()


def waits(rules: list[Rule]) -> float:
    """How long after the poison the grader keeps evaluating: the longest `for:` it accepts."""
    return min(max((r.for_seconds for r in rules), default=0.0), LONGEST_FOR)


def judge(rules: list[Rule] | str, watch: Watch | None, poisoned: bool, quiet_valid: bool) -> Check:
    """The verdict on the learner's rules.

    `watch`: the scrapes (None: the service was not run for the alert phase); `poisoned`: the
    broker held the poison record on the DLT; `quiet_valid`: the broker's DLT did not grow
    while the quiet scrapes ran (so a rule active then was active without a poison)."""
    if isinstance(rules, str):
        return Check(NAME, False, rules, fix=FIX)
    slow = [r for r in rules if r.for_seconds > LONGEST_FOR]
    if watch is None or not watch.answered:
        return Check(
            NAME, False, "the service never answered on /metrics in the alert phase", fix=FIX
        )
    if quiet_valid and watch.before:
        return Check(
            NAME,
            False,
            f"before any poison record reached the DLT, {'; '.join(watch.before.values())}",
            fix=f"an alert on poison must stay quiet while {COUNTER} does not move: {FIX}",
        )
    if not poisoned:
        return Check(
            NAME,
            None,
            "the poison record never reached the DLT, so the rule could not be tried",
        )
    fired = [name for name, state in watch.after.items() if state == "firing"]
    if fired:
        note = (
            ""
            if quiet_valid
            else " (this start dead-lettered a record before: not-before unjudged)"
        )
        return Check(
            NAME, True, f"{', '.join(fired)}: inactive while quiet, firing after the poison{note}"
        )
    counter = "absent" if watch.counter is None else f"{watch.counter:g}"
    pending = [name for name, state in watch.after.items() if state == "pending"]
    if pending or slow:
        names = ", ".join(f"{r.name} (for: {r.for_seconds:g}s)" for r in (slow or rules))
        return Check(
            NAME,
            False,
            f"{names} stayed pending after the poison: the grader waits {LONGEST_FOR:g} s",
            fix="a poison record is worth an alert at once: for: 0s, or a few seconds",
        )
    missing = sorted(
        {n for r in rules for n in promql.metric_names(r.expr)} - watch.exposed - {"up"}
    )
    why = f"; /metrics has no {', '.join(missing)}" if missing else ""
    if not missing and any("{" in r.expr_text for r in rules):
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(watch.target.labels.items()))
        why = f"; the scraped series carry {labels}"
    exprs = "; ".join(f"{r.name}: {r.expr_text}" for r in rules)
    return Check(
        NAME,
        False,
        f"inactive after the poison reached the DLT ({COUNTER} = {counter}): {exprs}{why}",
        fix=FIX,
    )
