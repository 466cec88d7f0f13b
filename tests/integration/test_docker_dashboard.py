"""The Grafana dashboard in docker/ asks only for metrics the running platform really exports.

No Docker here, so the services run as `kafkalab up` runs them (own_platform), which is the
same code the containers run; every metric name in the dashboard's PromQL must be a family in
a live /metrics scrape of the six services or of the platform endpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kafkalab.catalogue import metrics as catalogue
from kafkalab.catalogue.services import SERVICES, platform_port, service_port
from tests.integration.pool import Running

pytestmark = pytest.mark.integration
DASHBOARDS = Path(__file__).resolve().parents[2] / "docker" / "grafana" / "dashboards"
METRIC = re.compile(r"\bkafkalab_[a-z0-9_]+")


def dashboard_metrics() -> dict[str, set[str]]:
    """Metric name → the dashboard panels that query it."""
    used: dict[str, set[str]] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                for name in METRIC.findall(target["expr"]):
                    used.setdefault(name, set()).add(f"{path.name}: {panel['title']}")
    return used


def family_of(series: str) -> str:
    """The family a sample name belongs to, by the metrics catalogue (…_bucket → histogram)."""
    for spec in catalogue.CATALOGUE:
        if series in catalogue.series_names(spec):
            return catalogue.family_name(spec)
    raise AssertionError(f"{series} is not in kafkalab/catalogue/metrics.py")


def scrape(port: int) -> set[str]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return {family.name for family in text_string_to_metric_families(text)}


def test_every_dashboard_metric_is_exported_by_the_running_platform(platform: Running) -> None:
    settings = platform.settings
    used = dashboard_metrics()
    assert len(used) >= 10, "the dashboard covers the platform's metrics"
    live: set[str] = set()
    for name in SERVICES:
        live |= scrape(service_port(settings, name))
    live |= scrape(platform_port(settings))
    missing = {name: panels for name, panels in used.items() if family_of(name) not in live}
    assert not missing, f"the dashboard queries metrics no endpoint exports: {missing}"
