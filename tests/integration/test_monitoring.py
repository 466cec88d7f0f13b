"""Monitoring on the shared platform: the metric catalogue against a live scrape; kafkalab's
real Prometheus (`kafkalab monitoring up`) scraping every target with the shipped rules; and the
consumer-lag alert for a paused consumer — from `kafkalab alerts`' in-process evaluator and from
Prometheus loading the same rule file."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import SERVICES
from kafkalab.connection import Connection
from kafkalab.load import plan as load_plan
from kafkalab.load import shop
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.rules import load_rules
from kafkalab.monitoring.scrape import Target, scrape_one, targets
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control, monitoring
from kafkalab.settings import Settings, settings_env
from tests.helpers import free_port, run_cli
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTIFICATION_GROUP = "kafkalab-notification"
LAG_THRESHOLD = 50  # alerts.yml: sum by (group) (kafkalab_consumergroup_lag) > 50


@pytest.fixture(scope="module")
def customers(platform: Running) -> list[shop.Customer]:
    settings = platform.settings
    with httpx.Client() as http:
        return shop.customers(settings, http, load_plan.LoadPlan(orders=1, users=2))


def place(settings: Settings, customers: list[shop.Customer], count: int) -> int:
    """`count` one-sticker orders over the HTTP API; how many were accepted."""
    client = shop.OrderClient(settings)
    try:
        placed = [client.place(customers[i % len(customers)], "SKU-STICKER") for i in range(count)]
    finally:
        client.close()
    return sum(1 for p in placed if p.order_id)


def wait_for(check: Any, timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout:g} s (last: {last!r})")


def families(target: Target) -> dict[str, str]:
    from prometheus_client.parser import text_string_to_metric_families

    text = scrape_one(target, timeout=10)
    assert text is not None, f"{target.endpoint} did not answer /metrics"
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_every_catalogue_metric_is_exported_with_its_type(
    platform: Running, customers: list[shop.Customer]
) -> None:
    settings = platform.settings
    assert place(settings, customers, 3) == 3
    wait_for(
        lambda: families(targets(settings)[1]).get("kafkalab_orders") == "gauge",
        30,
        "order exports kafkalab_orders",
    )
    missing = []
    found = control.scrape_targets(settings)  # the brokers' JMX exporter agents too
    assert specs.BROKER in {t.endpoint for t in found}
    for target in found:
        exposed = families(target)
        for spec in specs.exported_by(target.endpoint):
            if exposed.get(specs.family_name(spec)) != spec.type:
                missing.append(
                    f"{target.endpoint}: {spec.name} ({spec.type}) -> "
                    f"{exposed.get(specs.family_name(spec))}"
                )
    assert not missing, missing


@pytest.fixture(scope="module")
def prometheus(platform: Running) -> Iterator[str | None]:
    """kafkalab's real Prometheus over the platform, started as a user starts it (`kafkalab
    monitoring up`) on the platform's own port; None when the binary is not installed. Started
    before the pause so it sees the change."""
    settings = platform.settings
    if shutil.which(settings.prometheus) is None:
        yield None
        return
    env = settings_env(settings)
    started = run_cli("monitoring", "up", "--json", env=env)
    try:
        assert started.code == 0, started.stdout + started.stderr
        assert json.loads(started.stdout)["running"] is True
        yield monitoring.url(settings)
    finally:
        stopped = run_cli("monitoring", "down", env=env)
        assert stopped.code == 0 and "Prometheus stopped" in stopped.stdout, stopped.stderr


def test_prometheus_scrapes_every_target_and_loaded_the_rules(
    platform: Running, prometheus: str | None
) -> None:
    """Every service, the platform's lag endpoint and the broker's agent up, as Prometheus
    itself reports them; the shipped rules loaded and evaluating; `kafkalab alerts` asks it."""
    if prometheus is None:
        pytest.skip("the prometheus binary is not installed (Debian package `prometheus`)")
    settings = platform.settings
    wanted = {t.instance: t.endpoint for t in control.scrape_targets(settings)}
    assert {specs.BROKER, "platform", *SERVICES} == set(wanted.values())
    answer = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
    health = {t["labels"]["instance"]: t["health"] for t in answer["activeTargets"]}
    assert health == {instance: "up" for instance in wanted}, answer
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {r["name"]: r["health"] for g in groups for r in g["rules"]}
    assert loaded == {rule.name: "ok" for rule in load_rules()}
    run = run_cli("alerts", "--json", env=settings_env(settings))
    assert run.code == 0, run.stderr
    assert f"alerts from Prometheus at {prometheus}" in run.stderr
    assert {a["rule"] for a in json.loads(run.stdout)} == set(loaded)


def evaluator_env(settings: Settings) -> dict[str, str]:
    """The platform's settings with kafkalab's Prometheus looked for where none listens:
    `kafkalab alerts` falls back to its in-process evaluator."""
    return {**settings_env(settings), "KAFKALAB_PROMETHEUS_PORT": str(free_port())}


@pytest.fixture(scope="module")
def paused(
    platform: Running, customers: list[shop.Customer], prometheus: str | None
) -> Iterator[int]:
    """notification paused (`kafkalab chaos pause notification`) while orders flow; yields the
    notification group's lag as the broker reports it."""
    settings, conn = platform.settings, platform.conn
    env = settings_env(settings)
    # Warm up: notification commits on most order-events partitions (lag is measured from a
    # committed offset), then catches up.
    assert place(settings, customers, 12) == 12
    wait_for(
        lambda: _lag(conn) == 0 and len(_partitions(conn)) >= 3,
        90,
        "notification caught up on several partitions",
    )
    pause = run_cli("chaos", "pause", "notification", "--no-load", env=env)
    assert pause.code == 0, pause.stdout + pause.stderr
    try:
        accepted = place(settings, customers, 60)
        assert accepted >= 50
        behind = wait_for(
            lambda: _lag(conn) if _lag(conn) > LAG_THRESHOLD else 0,
            60,
            f"notification's lag over {LAG_THRESHOLD}",
        )
        yield behind
    finally:
        run_cli("chaos", "resume", "notification", env=env)


def _partitions(conn: Connection) -> list[str]:
    groups = group_lag(conn, [NOTIFICATION_GROUP])
    return [f"{p.topic}[{p.partition}]" for g in groups for p in g.partitions]


def _lag(conn: Connection) -> int:
    return sum(g.total for g in group_lag(conn, [NOTIFICATION_GROUP]))


def lag_alerts(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        a
        for a in found
        if a["rule"] == "KafkalabConsumerLag" and a["labels"].get("group") == NOTIFICATION_GROUP
    ]


def test_kafkalab_alerts_shows_the_lag_of_a_paused_consumer(platform: Running, paused: int) -> None:
    settings = platform.settings
    run = run_cli("alerts", "--json", "--interval", "2", env=evaluator_env(settings))
    assert run.code == 0, run.stderr
    assert "alerts from kafkalab's in-process evaluator" in run.stderr
    found = lag_alerts(json.loads(run.stdout))
    assert len(found) == 1, run.stdout
    assert found[0]["state"] in ("pending", "firing")  # one run has not held it for 15 s
    assert found[0]["value"] > LAG_THRESHOLD
    table = run_cli("alerts", "--interval", "1", env={**evaluator_env(settings), "COLUMNS": "200"})
    assert "ConsumerLag" in table.stdout and NOTIFICATION_GROUP in table.stdout, table.stdout


def test_watching_honours_for_and_the_lag_alert_fires(platform: Running, paused: int) -> None:
    settings = platform.settings
    live = LiveAlerts(control.scrape_targets(settings))
    first = lag_alerts([_plain(a) for a in live.sample()])
    assert first and first[0]["state"] == "pending"

    def fired() -> list[dict[str, Any]]:
        return [a for a in lag_alerts([_plain(a) for a in live.sample()]) if a["state"] == "firing"]

    firing = wait_for(fired, 90, "the lag alert firing", every=3.0)
    assert firing[0]["active_for"] >= 15
    # The paused process does not answer its scrape either: that is a different alert.
    down = [a for a in live.sample() if a.rule == "KafkalabServiceDown"]
    assert any(a.labels.get("endpoint") == "notification" for a in down if a.state != "inactive")


def _plain(alert: Any) -> dict[str, Any]:
    return dict(vars(alert))


def test_prometheus_fires_the_same_lag_alert(
    platform: Running, prometheus: str | None, paused: int
) -> None:
    if prometheus is None:
        pytest.skip("the prometheus binary is not installed (Debian package `prometheus`)")
    url = prometheus

    def firing() -> list[dict[str, Any]]:
        answer = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()
        return [
            a
            for a in answer["data"]["alerts"]
            if a["labels"].get("alertname") == "KafkalabConsumerLag"
            and a["labels"].get("group") == NOTIFICATION_GROUP
            and a["state"] == "firing"
        ]

    found = wait_for(firing, 120, "Prometheus firing KafkalabConsumerLag", every=2.0)
    assert float(found[0]["value"]) > LAG_THRESHOLD
    run = run_cli("alerts", "--json", env=settings_env(platform.settings))
    from_prometheus = lag_alerts(json.loads(run.stdout))
    assert from_prometheus and from_prometheus[0]["state"] == "firing", run.stdout
