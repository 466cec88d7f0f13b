"""Scraping the platform's /metrics endpoints the way Prometheus does, into a short history.

Each target gets the labels a Prometheus scrape would add (`job`, `instance`, `endpoint`),
plus a synthetic `up` series (1 answered, 0 did not — a paused process times out), so the same
rule file means the same thing to `kafkalab alerts` and to a real Prometheus configured by
`prometheus_config()`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from kafkalab import localhttp
from kafkalab.catalogue.metrics import BROKER, PLATFORM
from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES, platform_port, service_port
from kafkalab.monitoring.promql import Labels, parse_duration
from kafkalab.settings import Settings

SERVICES_JOB = "kafkalab"
PLATFORM_JOB = "kafkalab-platform"
BROKERS_JOB = "kafka"
SCRAPE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Target:
    endpoint: str  # a service name, "platform" or "broker"
    host: str
    port: int

    @property
    def instance(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def job(self) -> str:
        return {PLATFORM: PLATFORM_JOB, BROKER: BROKERS_JOB}.get(self.endpoint, SERVICES_JOB)

    @property
    def labels(self) -> dict[str, str]:
        return {"job": self.job, "instance": self.instance, "endpoint": self.endpoint}


def targets(
    settings: Settings, replicas: dict[str, int] | None = None, brokers: int = 0
) -> list[Target]:
    """Replica 0 of each service (or `replicas[name]` of them), the platform endpoint, and the
    JMX exporter agent of each of `brokers` brokers (none when `broker_metrics_port` is 0)."""
    # The learner's refund service (`up --with refund`) is scraped only while it runs.
    learners = [n for n in LEARNER_SERVICES if (replicas or {}).get(n)]
    found = [
        Target(name, settings.host, service_port(settings, name, replica))
        for name in (*SERVICES, *learners)
        for replica in range((replicas or {}).get(name, 1))
    ]
    agents = [
        Target(BROKER, settings.host, settings.broker_metrics_port + i)
        for i in range(brokers if settings.broker_metrics_port else 0)
    ]
    return [*found, Target(PLATFORM, settings.host, platform_port(settings)), *agents]


@dataclass
class Scrape:
    """One pass over every target: sample name → [(labels, value)], taken at `at`."""

    at: float
    series: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        self.series.setdefault(name, []).append((frozenset(labels.items()), value))


def scrape_one(target: Target, timeout: float = SCRAPE_TIMEOUT) -> str | None:
    """The target's exposition text, or None when it does not answer in time."""
    import httpx  # here: ~0.25 s that a command not scraping skips

    try:
        response = localhttp.get(f"http://{target.instance}/metrics", timeout=timeout)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


def parse_into(scrape: Scrape, target: Target, text: str | None) -> None:
    scrape.add("up", target.labels, 0.0 if text is None else 1.0)
    if text is None:
        return
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            scrape.add(sample.name, {**sample.labels, **target.labels}, float(sample.value))


def scrape_all(found: Sequence[Target], timeout: float = SCRAPE_TIMEOUT) -> Scrape:
    """Every target at once (a stopped one costs `timeout`, not `timeout` per target)."""
    scrape = Scrape(time.time())
    with ThreadPoolExecutor(max_workers=max(len(found), 1)) as pool:
        texts = list(pool.map(lambda t: scrape_one(t, timeout), found))
    for target, text in zip(found, texts, strict=True):
        parse_into(scrape, target, text)
    return scrape


class History:
    """The last `keep` seconds of scrapes: what `rate(x[5m])` needs. Implements promql.Samples."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.scrapes: deque[Scrape] = deque()

    def add(self, scrape: Scrape) -> None:
        self.scrapes.append(scrape)
        while self.scrapes and self.scrapes[0].at < scrape.at - self.keep:
            self.scrapes.popleft()

    @property
    def now(self) -> float:
        return self.scrapes[-1].at if self.scrapes else time.time()

    def instant(self, name: str) -> Sequence[tuple[Labels, float]]:
        return self.scrapes[-1].series.get(name, []) if self.scrapes else []

    def window(
        self, name: str, seconds: float
    ) -> Sequence[tuple[Labels, list[tuple[float, float]]]]:
        start = self.now - seconds
        points: dict[Labels, list[tuple[float, float]]] = {}
        for scrape in self.scrapes:
            if scrape.at < start:
                continue
            for labels, value in scrape.series.get(name, []):
                points.setdefault(labels, []).append((scrape.at, value))
        return list(points.items())


def prometheus_config(
    settings: Settings, rule_file: str, interval: str = "5s", found: Sequence[Target] = ()
) -> dict[str, object]:
    """A prometheus.yml (as a dict) scraping the same targets with the same labels as
    `kafkalab alerts`, and loading `rule_file`."""
    timeout = min(SCRAPE_TIMEOUT, parse_duration(interval))  # Prometheus refuses a longer one
    by_job: dict[str, list[dict[str, object]]] = {}
    for target in found or targets(settings):
        by_job.setdefault(target.job, []).append(
            {"targets": [target.instance], "labels": {"endpoint": target.endpoint}}
        )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [rule_file],
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_timeout": f"{timeout:g}s",
                "static_configs": configs,
            }
            for job, configs in by_job.items()
        ],
    }
