"""Monitoring on a running platform of its own: the metric catalogue against a live scrape, and
the consumer-lag alert for a paused consumer — from `kafkalab alerts` and, when the binary is
installed, from a real Prometheus loading the same rule file."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from kafkalab.catalogue import metrics as specs
from kafkalab.connection import Connection
from kafkalab.load import plan as load_plan
from kafkalab.load import shop
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.rules import default_rule_file
from kafkalab.monitoring.scrape import Target, prometheus_config, scrape_one, targets
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control
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
def prometheus(platform: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A real Prometheus on loopback scraping the platform every 2 s with the shipped rules
    (None when the binary is not installed). Started before the pause so it sees the change."""
    settings = platform.settings
    binary = shutil.which("prometheus")
    if binary is None:
        yield None
        return
    workdir = tmp_path_factory.mktemp("prometheus")
    rules = workdir / "alerts.yml"
    rules.write_text(default_rule_file().read_text())
    config = prometheus_config(settings, str(rules), interval="2s")
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _ready(url), 60, "Prometheus ready")
        assert proc.poll() is None, (workdir / "prometheus.log").read_text()[-2000:]
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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
    pause = run_cli("chaos", "pause", "notification", env=env)
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
    run = run_cli("alerts", "--json", "--interval", "2", env=settings_env(settings))
    assert run.code == 0, run.stderr
    found = lag_alerts(json.loads(run.stdout))
    assert len(found) == 1, run.stdout
    assert found[0]["state"] in ("pending", "firing")  # one run has not held it for 15 s
    assert found[0]["value"] > LAG_THRESHOLD
    table = run_cli("alerts", "--interval", "1", env={**settings_env(settings), "COLUMNS": "200"})
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


def test_prometheus_fires_the_same_lag_alert(prometheus: str | None, paused: int) -> None:
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
    targets_up = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    assert len(targets_up) == 7  # six services and the platform endpoint
