"""The alert rules (alerts.yml, shipped with the package) and their evaluation over time.

`AlertEngine.evaluate()` follows Prometheus' alerting model: a rule's expression returns one
sample per label set that is in trouble; such an alert is *pending* until it has been true for
the rule's `for:` duration, then *firing*; a label set that drops out is *inactive* again.
A single evaluation has seen no duration, so with `for:` its alerts are pending — `--watch`
keeps evaluating and honours `for:`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from kafkalab.errors import KafkalabError
from kafkalab.monitoring import promql
from kafkalab.monitoring.promql import Expr, Labels, Samples

State = Literal["firing", "pending", "inactive"]
_TEMPLATE = re.compile(r"\{\{\s*\$(labels\.(\w+)|value)\s*\}\}")


class RuleFileError(KafkalabError):
    hint = "compare it with kafkalab/monitoring/alerts.yml (`promtool check rules` validates it)"


@dataclass(frozen=True)
class Rule:
    name: str
    expr_text: str
    expr: Expr
    for_seconds: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Alert:
    """One rule's verdict for one label set (or the rule itself, inactive, when none)."""

    rule: str
    state: State
    labels: dict[str, str]
    value: float | None
    summary: str
    severity: str
    active_for: float = 0.0
    for_seconds: float = 0.0


def default_rule_file() -> Path:
    return Path(str(resources.files("kafkalab.monitoring") / "alerts.yml"))


def load_rules(path: Path | None = None) -> list[Rule]:
    path = path or default_rule_file()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RuleFileError(f"cannot read the rule file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path} is not valid YAML: {exc}") from exc
    return parse_rules(document, str(path))


def parse_rules(document: Any, source: str = "the rule file") -> list[Rule]:
    """Rules of a Prometheus rule file document; recording rules are refused (not needed)."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise RuleFileError(f"{source} has no 'groups:' list")
    rules: list[Rule] = []
    for group in document["groups"]:
        for raw in (group or {}).get("rules") or []:
            name = raw.get("alert")
            if not name:
                raise RuleFileError(f"{source}: only alerting rules are supported, got {raw}")
            try:
                expr = promql.parse(str(raw.get("expr", "")))
                for_seconds = promql.parse_duration(str(raw["for"])) if "for" in raw else 0.0
            except promql.PromQLError as exc:
                raise RuleFileError(f"{source}, alert {name}: {exc}") from exc
            rules.append(
                Rule(
                    name,
                    " ".join(str(raw["expr"]).split()),
                    expr,
                    for_seconds,
                    {str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                    {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
                )
            )
    return rules


def render(template: str, labels: dict[str, str], value: float | None) -> str:
    """`{{ $labels.x }}` and `{{ $value }}`: the two template forms the rule file uses."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "value":
            return format_value(value)
        return labels.get(match.group(2), "")

    return _TEMPLATE.sub(fill, template)


def format_value(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


def _as_dict(labels: Labels) -> dict[str, str]:
    return dict(sorted(labels))


class AlertEngine:
    """Evaluates rules repeatedly, remembering since when each alert has been active."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._since: dict[tuple[str, Labels], float] = {}

    @property
    def history_seconds(self) -> float:
        """How far back the rules look (the longest range selector)."""
        return max((promql.longest_range(r.expr) for r in self.rules), default=0.0)

    def evaluate(self, samples: Samples, now: float) -> list[Alert]:
        alerts: list[Alert] = []
        for rule in self.rules:
            result = promql.evaluate(rule.expr, samples)
            if not isinstance(result, dict):  # a scalar: true unless 0 or NaN
                result = {frozenset(): result} if result and not math.isnan(result) else {}
            seen = set()
            for labels, value in sorted(result.items(), key=lambda kv: sorted(kv[0])):
                key = (rule.name, labels)
                seen.add(key)
                since = self._since.setdefault(key, now)
                active_for = now - since
                state: State = "firing" if active_for >= rule.for_seconds else "pending"
                shown = {**_as_dict(labels), **rule.labels}
                alerts.append(
                    Alert(
                        rule.name,
                        state,
                        _as_dict(labels),
                        value,
                        render(rule.annotations.get("summary", rule.name), shown, value),
                        rule.labels.get("severity", ""),
                        active_for,
                        rule.for_seconds,
                    )
                )
            for key in [k for k in self._since if k[0] == rule.name and k not in seen]:
                del self._since[key]
            if not seen:
                alerts.append(
                    Alert(
                        rule.name,
                        "inactive",
                        {},
                        None,
                        "",
                        rule.labels.get("severity", ""),
                        0.0,
                        rule.for_seconds,
                    )
                )
        order = {"firing": 0, "pending": 1, "inactive": 2}
        return sorted(alerts, key=lambda a: order[a.state])
