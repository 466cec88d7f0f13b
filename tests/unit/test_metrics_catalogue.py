"""The metrics catalogue follows Prometheus naming conventions and builds what it promises."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kafkalab.catalogue import metrics as catalogue
from kafkalab.catalogue.metrics import CATALOGUE, MetricSpec

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_names_follow_prometheus_conventions(spec: MetricSpec) -> None:
    # the brokers' metrics are named after their MBeans, as Kafka's JMX exporter users know them
    assert spec.name.startswith(
        "kafka_" if spec.exported_by == (catalogue.BROKER,) else "kafkalab_"
    )
    assert SNAKE.match(spec.name)
    assert spec.name.endswith("_total") == (spec.type == "counter")
    assert all(SNAKE.match(label) for label in spec.labels)
    assert len(set(spec.labels)) == len(spec.labels)
    assert spec.help and spec.exported_by
    # base units: no milliseconds, no "latency" without its unit
    assert "_ms" not in spec.name and "millis" not in spec.name


def test_names_are_unique_and_durations_are_seconds() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert catalogue.PROCESSING_SECONDS.name.endswith("_seconds")


def test_every_service_exports_the_common_set_with_a_service_label() -> None:
    for service in catalogue.ALL_SERVICES:
        names = {spec.name for spec in catalogue.exported_by(service)}
        for common in (
            catalogue.EVENTS_CONSUMED,
            catalogue.EVENTS_PRODUCED,
            catalogue.PROCESSING_SECONDS,
            catalogue.RETRIES,
            catalogue.DEAD_LETTERS,
            catalogue.TRANSACTIONS,
            catalogue.CONSUMER_LAG,
        ):
            assert common.name in names
            assert common.labels[0] == "service"


@pytest.mark.parametrize(
    "spec", [s for s in CATALOGUE if s.type != "gauge" or s.labels], ids=lambda s: s.name
)
def test_a_built_metric_is_exposed_under_the_catalogue_name_and_type(spec: MetricSpec) -> None:
    registry = CollectorRegistry()
    build = {"counter": catalogue.counter, "gauge": catalogue.gauge}.get(
        spec.type, catalogue.histogram
    )
    metric = build(spec, registry)  # type: ignore[operator]
    child = metric.labels(*["x"] * len(spec.labels)) if spec.labels else metric
    if spec.type == "histogram":
        child.observe(0.01)
    elif spec.type == "counter":
        child.inc()
    else:
        child.set(1)
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    family = families[catalogue.family_name(spec)]
    assert family.type == spec.type
    assert {s.name for s in family.samples} >= set(catalogue.series_names(spec))


def test_a_spec_of_another_type_is_refused() -> None:
    with pytest.raises(ValueError, match="is a counter"):
        catalogue.gauge(catalogue.EVENTS_CONSUMED, CollectorRegistry())
