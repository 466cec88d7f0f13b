"""The broker's side of a load run: how many requests it handled, by type.

Why count requests: on 2 cores the cost of the pipeline is per wake-up and per request, not per
event — a consumer that fetches 1 record per request and a producer that sends 1 record per
request cost the broker (and themselves) the same per request as 500 records would. Requests
per order is what batching (linger.ms, fetch.min.bytes, consume(num_messages)) brings down.

The figures come from the JMX exporter agent every kafkalab broker runs
(`kafka_network_requestmetrics_requests_total{request=...}` on `broker_metrics_port` + i), the
same endpoint Prometheus scrapes.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kafkalab.catalogue.metrics import BROKER, REQUESTS
from kafkalab.monitoring.scrape import Target, scrape_one
from kafkalab.settings import Settings


def request_counts(settings: Settings, brokers: int) -> dict[str, int]:
    """Requests handled so far by type, summed over `brokers` brokers; empty when the brokers
    export no metrics (an external cluster, or `broker_metrics_port` 0)."""
    if not settings.broker_metrics_port or brokers <= 0:
        return {}
    totals: dict[str, int] = {}
    for i in range(brokers):
        text = scrape_one(Target(BROKER, settings.host, settings.broker_metrics_port + i))
        if text is None:
            return {}  # a partial sum would read as a drop in requests
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == REQUESTS.name:
                    kind = sample.labels.get("request", "?")
                    totals[kind] = totals.get(kind, 0) + int(sample.value)
    return totals


def requests_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Requests per type handled between two readings (a type missing before counts from 0;
    a counter that went back — a restarted broker — is left out rather than guessed)."""
    out = {kind: n - before.get(kind, 0) for kind, n in after.items() if before}
    return {kind: n for kind, n in sorted(out.items()) if n >= 0}
