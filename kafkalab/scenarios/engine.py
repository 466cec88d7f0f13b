"""Run a scenario against the live platform and judge it by reading the topics back.

Steps talk to the services over HTTP as a user's client would; the verdict never asks a
service what happened — it reads Kafka (read_committed) and checks the expectations there,
polling until they hold or the scenario's timeout passes.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kafkalab import verdict
from kafkalab.catalogue.services import SERVICES, group_id, service_port
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events import topics as t
from kafkalab.events.serde import Event, now_ms
from kafkalab.load.shop import top_up_stock
from kafkalab.observe.lag import GroupLag, group_lag
from kafkalab.observe.trace import TRACE_TOPICS, TraceLine, order_events, read_events, trace_lines
from kafkalab.observe.verify import VerifyReport, verify_orders
from kafkalab.scenarios import Scenario
from kafkalab.settings import Settings
from kafkalab.verdict import Check

Notify = Callable[[str], None]


class ScenarioStepFailed(KafkalabError):
    hint = "see `kafkalab ps` and `kafkalab logs SERVICE` for the service that answered"


@dataclass
class StepResult:
    action: str
    status: int
    detail: str


@dataclass
class ScenarioResult:
    name: str
    title: str
    seconds: float = 0.0
    user_id: str | None = None
    order_id: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    trace: list[TraceLine] = field(default_factory=list)
    lags: list[GroupLag] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    verify: VerifyReport | None = None

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks) and (self.verify is None or self.verify.passed)


@dataclass
class _Context:
    run_id: str
    user_id: str | None = None
    email: str | None = None
    password: str | None = None
    token: str | None = None
    order_id: str | None = None
    order_status: int | None = None
    started_ms: int = 0


def run(
    settings: Settings, conn: Connection, scenario: Scenario, notify: Notify | None = None
) -> ScenarioResult:
    say = notify or (lambda _m: None)
    started = time.monotonic()
    result = ScenarioResult(scenario.name, scenario.title)
    ctx = _Context(run_id=uuid.uuid4().hex[:8], started_ms=now_ms())
    with httpx.Client(timeout=30) as http:
        for step in scenario.steps:
            outcome = _STEPS[step["action"]](settings, http, ctx, step)
            say(f"{outcome.action}: {outcome.detail}")
            result.steps.append(outcome)
    result.user_id, result.order_id = ctx.user_id, ctx.order_id
    say("reading the topics back until the expectations hold")
    deadline = time.monotonic() + scenario.timeout
    while True:
        # Only this run's records: everything it checks happened after it started.
        events = read_events(conn, (*TRACE_TOPICS, t.ANALYTICS), since_ms=ctx.started_ms)
        result.checks = evaluate(
            scenario.expect, events, ctx.order_id, ctx.order_status, ctx.started_ms, ctx.user_id
        )
        if result.passed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if ctx.order_id:
        result.trace = trace_lines(order_events(events, ctx.order_id))
    say("running the invariant checker on this run's orders")
    result.verify = verify_orders(
        conn,
        [ctx.order_id] if ctx.order_id else [],
        since_ms=ctx.started_ms,
        settle_seconds=15,
        notify=say,
    )
    result.lags = group_lag(conn, [group_id(name) for name in SERVICES])
    result.seconds = time.monotonic() - started
    return result


def _opted_out(event: Event) -> list[str]:
    """The channels a UserPreferencesUpdated turns off."""
    channels = (event.value.get("preferences") or {}).get("channels") or {}
    return sorted(str(c) for c, on in channels.items() if on is False)


def _url(settings: Settings, service: str, path: str) -> str:
    return f"http://{settings.host}:{service_port(settings, service)}{path}"


def _call(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ScenarioStepFailed(f"{method} {url} failed: {exc}") from exc


def _register(
    settings: Settings, http: httpx.Client, ctx: _Context, step: dict[str, Any]
) -> StepResult:
    name = str(step.get("name", "Learner"))
    slug = re.sub(r"[^a-z]+", ".", name.lower()).strip(".")
    ctx.email = f"{slug}.{ctx.run_id}@example.com"
    ctx.password = f"correct-horse-{ctx.run_id}"
    body = {
        "email": ctx.email,
        "name": name,
        "password": ctx.password,
        "phone": f"+44 7700 9{int(ctx.run_id, 16) % 100000:05d}",
        "balance_cents": int(step.get("balance_cents", 100_000)),
    }
    response = _call(http, "POST", _url(settings, "user", "/users"), json=body)
    if response.status_code != 201:
        raise ScenarioStepFailed(f"register answered {response.status_code}: {response.text[:200]}")
    ctx.user_id = response.json()["user_id"]
    return StepResult("register", 201, f"user {ctx.user_id} ({ctx.email})")


def _login(
    settings: Settings, http: httpx.Client, ctx: _Context, step: dict[str, Any]
) -> StepResult:
    body = {"email": ctx.email, "password": ctx.password}
    response = _call(http, "POST", _url(settings, "user", "/login"), json=body)
    if response.status_code != 200:
        raise ScenarioStepFailed(f"login answered {response.status_code}: {response.text[:200]}")
    ctx.token = response.json()["token"]
    return StepResult("login", 200, "token issued")


def _preferences(
    settings: Settings, http: httpx.Client, ctx: _Context, step: dict[str, Any]
) -> StepResult:
    """PUT /users/{id}/preferences with the step's fields (channels, language,
    marketing_consent), as the logged-in user."""
    body = {k: v for k, v in step.items() if k != "action"}
    headers = {"Authorization": f"Bearer {ctx.token}"} if ctx.token else {}
    path = f"/users/{ctx.user_id}/preferences"
    response = _call(http, "PUT", _url(settings, "user", path), json=body, headers=headers)
    if response.status_code != 200:
        raise ScenarioStepFailed(
            f"preferences answered {response.status_code}: {response.text[:200]}"
        )
    channels = response.json()["channels"]
    off = ", ".join(c for c, on in channels.items() if not on) or "none"
    return StepResult("preferences", 200, f"channels opted out: {off}")


def _order(
    settings: Settings, http: httpx.Client, ctx: _Context, step: dict[str, Any]
) -> StepResult:
    body = {"items": step.get("items", []), "card_number": str(step.get("card_number", ""))}
    if step.get("restock", True):
        # The shop restocks what the story buys, as a load does: an earlier load may have
        # sold the shelf empty, and "out of stock" is not what a happy path is about.
        needed: dict[str, int] = {}
        for item in body["items"]:
            needed[str(item["sku"])] = needed.get(str(item["sku"]), 0) + int(item["quantity"])
        top_up_stock(settings, http, needed)
    headers = {"Authorization": f"Bearer {ctx.token}"} if ctx.token else {}
    response = _call(http, "POST", _url(settings, "order", "/orders"), json=body, headers=headers)
    ctx.order_status = response.status_code
    if response.status_code == 201:
        ctx.order_id = response.json()["order_id"]
        return StepResult("order", 201, f"order {ctx.order_id} created")
    return StepResult("order", response.status_code, response.text[:200])


_STEPS = {
    "register": _register,
    "login": _login,
    "preferences": _preferences,
    "order": _order,
}


def evaluate(
    expect: dict[str, Any],
    events: list[Event],
    order_id: str | None,
    http_status: int | None,
    started_ms: int,
    user_id: str | None = None,
) -> list[Check]:
    """Each expectation against what the topics hold for this order (and its user)."""
    mine = [e for e in events if order_id and e.value.get("order_id") == order_id]
    statuses = [
        e.value["to_status"]
        for e in sorted(
            (e for e in mine if e.type == "OrderStatusChanged"),
            key=lambda e: (e.timestamp_ms, e.offset),
        )
    ]
    count = {kind: sum(1 for e in mine if e.type == kind) for kind in {e.type for e in mine}}
    templates = sorted(
        {str(e.value.get("template")) for e in mine if e.type == "NotificationRequested"}
    )
    channels = sorted({str(e.value.get("channel")) for e in mine if e.type == "NotificationSent"})
    requested_channels = sorted(
        {str(e.value.get("channel")) for e in mine if e.type == "NotificationRequested"}
    )
    choices = [
        e
        for e in events
        if user_id and e.type == "UserPreferencesUpdated" and e.value.get("user_id") == user_id
    ]
    windows = [
        e
        for e in events
        if e.type == "AnalyticsWindow" and e.value.get("window_end", 0) >= started_ms
    ]
    checks: list[Check] = []
    for name, want in expect.items():
        match name:
            case "order_status":
                got = (
                    statuses[-1] if statuses else ("CREATED" if count.get("OrderCreated") else None)
                )
                checks.append(Check(name, got == want, f"order is {got}, expected {want}"))
            case "status_path":
                checks.append(
                    Check(name, statuses == list(want), " → ".join(statuses) or "no transitions")
                )
            case "payments_completed" | "payments_failed":
                kind = "PaymentCompleted" if name == "payments_completed" else "PaymentFailed"
                got = count.get(kind, 0)
                checks.append(
                    Check(name, got == want, f"{got} {kind} on {t.PAYMENTS} (read_committed)")
                )
            case "stock_committed" | "stock_released":
                kind = "StockCommitted" if name == "stock_committed" else "StockReleased"
                got = count.get(kind, 0)
                checks.append(Check(name, (got > 0) == bool(want), f"{got} {kind}"))
            case "notifications_sent":
                got = count.get("NotificationSent", 0)
                checks.append(
                    Check(name, got == want, f"{got} sent ({', '.join(channels) or 'none'})")
                )
            case "notification_template":
                wanted = sorted([want] if isinstance(want, str) else want)
                detail = f"templates: {', '.join(templates) or 'none'}"
                checks.append(Check(name, templates == wanted, detail))
            case "notification_channels":
                wanted = sorted(want)
                detail = (
                    f"requested on {', '.join(requested_channels) or 'none'}, "
                    f"sent on {', '.join(channels) or 'none'}"
                )
                ok = requested_channels == wanted and channels == wanted
                checks.append(Check(name, ok, detail))
            case "channels_opted_out":
                got = _opted_out(choices[-1]) if choices else None
                detail = (
                    f"the latest of {len(choices)} UserPreferencesUpdated on {t.USER_EVENTS} "
                    f"opts out of {', '.join(got) or 'nothing'}"
                    if got is not None
                    else f"no UserPreferencesUpdated on {t.USER_EVENTS} for this user"
                )
                checks.append(Check(name, got == sorted(want), detail))
            case "analytics_updated":
                metrics = sorted({str(e.value.get("metric")) for e in windows})
                checks.append(
                    Check(
                        name,
                        bool(windows) == bool(want),
                        f"{len(windows)} window results since the run began ({', '.join(metrics) or 'none'})",
                    )
                )
            case "order_http_status":
                checks.append(
                    Check(name, http_status == want, f"POST /orders answered {http_status}")
                )
    return checks
