"""The six services as real processes under the supervisor, driven by the scenarios."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from kafkalab import localhttp
from kafkalab.catalogue.services import SERVICES, service_port
from kafkalab.platform import control
from kafkalab.settings import settings_env
from tests.helpers import run_cli
from tests.integration.pool import Running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["happy-path", "payment-failure", "preferences"])
def test_scenario_verdict_is_green(short_ttl_platform: Running, name: str) -> None:
    settings = short_ttl_platform.settings
    run = run_cli("scenario", name, "--json", env=settings_env(settings))
    assert run.code == 0, run.stdout[-3000:] + run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["passed"] is True
    assert all(check["ok"] for check in result["checks"])
    services = {line["service"] for line in result["trace"]}
    assert {"user", "order", "inventory", "payment", "notification"} <= services
    # causal order: every event's cause appears before it
    position = {line["event_id"]: i for i, line in enumerate(result["trace"])}
    for i, line in enumerate(result["trace"]):
        if line["causation_id"] in position:
            assert position[line["causation_id"]] < i, line


def test_every_service_answers_health_and_metrics(short_ttl_platform: Running) -> None:
    settings = short_ttl_platform.settings
    for name in SERVICES:
        port = service_port(settings, name)
        health = localhttp.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.status_code == 200, name
        assert health.json()["status"] == "ok"
        metrics = localhttp.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "# TYPE" in metrics.text, name


def test_a_killed_service_is_restarted_by_the_supervisor(short_ttl_platform: Running) -> None:
    settings = short_ttl_platform.settings
    [row] = [r for r in control.ps(settings) if r.service == "notification"]
    assert row.pid is not None
    os.kill(row.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [now] = [r for r in control.ps(settings) if r.service == "notification"]
        if now.pid not in (None, row.pid) and now.health == "ok":
            break
        time.sleep(0.3)
    assert now.restarts == row.restarts + 1
    assert now.pid != row.pid and now.health == "ok"


def test_scaling_payment_spreads_its_partitions(short_ttl_platform: Running) -> None:
    settings = short_ttl_platform.settings
    control.scale(settings, "payment", 2)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = [r for r in control.ps(settings) if r.service == "payment"]
            if len(rows) == 2 and all(r.assigned > 0 for r in rows):
                break
            time.sleep(0.5)
        assert len(rows) == 2
        assert all(r.health == "ok" and r.assigned > 0 for r in rows), rows
    finally:
        control.scale(settings, "payment", 1)


def test_dashboard_snapshot_shows_the_running_platform(short_ttl_platform: Running) -> None:
    settings = short_ttl_platform.settings
    run = run_cli("dashboard", "--once", "--json", env=settings_env(settings))
    assert run.code == 0, run.stderr
    snap = json.loads(run.stdout)
    assert {s["service"] for s in snap["services"] if s["up"]} == set(SERVICES)
    assert "kafkalab-order" in snap["lag"]
    assert snap["orders_total"] is not None and snap["orders_total"] >= 1  # the scenarios ran
    screen = run_cli("dashboard", "--once", env=settings_env(settings))
    assert screen.code == 0 and "consumer lag" in screen.stdout and "alerts" in screen.stdout
