"""kafkalab_consumer_lag: high watermark minus position per assigned partition, at scrape time."""

from __future__ import annotations

from confluent_kafka import TopicPartition
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kafkalab.services.runtime import Metrics, consumer_lag


class StubConsumer:
    """What consumer_lag reads from a confluent-kafka Consumer (no broker in a unit test)."""

    def __init__(self, positions: dict[int, int], highs: dict[int, int]) -> None:
        self.positions, self.highs = positions, highs

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", p) for p in self.positions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.positions[tp.partition])
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        assert cached, "a scrape must not cost a broker round trip"
        return 0, self.highs[tp.partition]


def samples(metrics: Metrics) -> dict[tuple[str, str], float]:
    text = generate_latest(metrics.registry).decode()
    family = next(
        f for f in text_string_to_metric_families(text) if f.name == "kafkalab_consumer_lag"
    )
    return {(s.labels["topic"], s.labels["partition"]): s.value for s in family.samples}


def test_lag_is_the_high_watermark_minus_the_position() -> None:
    stub = StubConsumer({0: 10, 1: 5, 2: -1001}, {0: 25, 1: 5, 2: 7})
    assert consumer_lag(stub) == [("t", 0, 15), ("t", 1, 0)]  # no position yet: left out


def test_every_consumer_of_a_service_is_exported_and_a_broken_one_is_skipped() -> None:
    metrics = Metrics("notification")
    metrics.watch_lag(lambda: consumer_lag(StubConsumer({0: 1}, {0: 4})))

    def closed() -> list[tuple[str, int, int]]:
        raise RuntimeError("Consumer closed")

    metrics.watch_lag(closed)
    metrics.watch_lag(lambda: [("notifications.sms", 0, 2)])
    assert samples(metrics) == {("t", "0"): 3.0, ("notifications.sms", "0"): 2.0}
