"""Reading a running Prometheus server over its HTTP API: readiness, targets, and the alerting
rules' state turned into the same `Alert` values the in-process evaluator gives.

`kafkalab alerts` shows either source with one renderer, so the Prometheus answer is mapped onto
`rules.Alert`: an alert's labels are those of its expression (Prometheus adds `alertname` and
the rule's own labels, which are taken off again), its value and summary are Prometheus' own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafkalab import localhttp
from kafkalab.errors import KafkalabError
from kafkalab.monitoring.rules import Alert, State

TIMEOUT = 5.0
_ORDER = {"firing": 0, "pending": 1, "inactive": 2}


class PrometheusUnreachable(KafkalabError):
    hint = "see `kafkalab monitoring status`; its log is under the data dir (prometheus/)"


@dataclass(frozen=True)
class TargetHealth:
    job: str
    instance: str
    endpoint: str
    health: str  # up | down | unknown
    error: str


@dataclass(frozen=True)
class LoadedRule:
    group: str
    name: str
    health: str  # ok | err | unknown
    state: str


def ready(url: str, timeout: float = 2.0) -> bool:
    """True when the server at `url` answers /-/ready with 200 (its TSDB is open)."""
    import httpx  # here: ~0.25 s that a command not asking Prometheus skips

    try:
        return localhttp.get(f"{url}/-/ready", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _data(url: str, path: str, params: dict[str, str] | None = None) -> Any:
    import httpx  # here: ~0.25 s that a command not asking Prometheus skips

    try:
        answer = localhttp.get(f"{url}{path}", params=params, timeout=TIMEOUT)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusUnreachable(f"Prometheus at {url} did not answer {path}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusUnreachable(f"Prometheus at {url} refused {path}: {body.get('error')}")
    return body["data"]


def targets(url: str) -> list[TargetHealth]:
    """The active scrape targets and whether their last scrape worked."""
    return [
        TargetHealth(
            str(t["labels"].get("job", "")),
            str(t["labels"].get("instance", "")),
            str(t["labels"].get("endpoint", "")),
            str(t.get("health", "unknown")),
            str(t.get("lastError", "")),
        )
        for t in _data(url, "/api/v1/targets", {"state": "active"})["activeTargets"]
    ]


def loaded_rules(url: str) -> list[LoadedRule]:
    """The alerting rules Prometheus loaded, each with its evaluation health."""
    return [
        LoadedRule(
            str(group["name"]),
            str(rule["name"]),
            str(rule.get("health", "")),
            str(rule.get("state", "")),
        )
        for group in _data(url, "/api/v1/rules", {"type": "alert"})["groups"]
        for rule in group["rules"]
    ]


def alerts(url: str, now: float | None = None) -> list[Alert]:
    """Every alerting rule's verdict as Prometheus holds it: one Alert per active label set, or
    the rule itself inactive — firing first, as `AlertEngine.evaluate` orders them."""
    at = time.time() if now is None else now
    found: list[Alert] = []
    for group in _data(url, "/api/v1/rules", {"type": "alert"})["groups"]:
        for rule in group["rules"]:
            found.extend(_rule_alerts(rule, at))
    return sorted(found, key=lambda a: _ORDER[a.state])


def _rule_alerts(rule: dict[str, Any], now: float) -> list[Alert]:
    own = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
    severity = own.get("severity", "")
    for_seconds = float(rule.get("duration", 0) or 0)
    active = [a for a in rule.get("alerts") or [] if a.get("state") in ("firing", "pending")]
    if not active:
        return [Alert(str(rule["name"]), "inactive", {}, None, "", severity, 0.0, for_seconds)]
    result = []
    for alert in active:
        labels = {
            str(k): str(v)
            for k, v in (alert.get("labels") or {}).items()
            if k != "alertname" and k not in own
        }
        state: State = "firing" if alert["state"] == "firing" else "pending"
        since = _timestamp(str(alert.get("activeAt", "")))
        result.append(
            Alert(
                str(rule["name"]),
                state,
                dict(sorted(labels.items())),
                _number(alert.get("value")),
                str((alert.get("annotations") or {}).get("summary", rule["name"])),
                severity,
                max(now - since, 0.0) if since else 0.0,
                for_seconds,
            )
        )
    return result


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _timestamp(text: str) -> float | None:
    """An RFC 3339 time as Prometheus writes it (nanoseconds, `Z`) in epoch seconds."""
    if not text:
        return None
    head, _, rest = text.rstrip("Z").partition(".")
    fraction = float(f"0.{rest[:6]}") if rest.isdigit() else 0.0
    try:
        return datetime.fromisoformat(f"{head}+00:00").timestamp() + fraction
    except ValueError:
        return None
