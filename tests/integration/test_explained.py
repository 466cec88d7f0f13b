"""A real client meets a real Kafka error a lesson explains, and the message says which lesson."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.explained import explain

pytestmark = pytest.mark.integration


def test_subscribing_to_a_missing_topic_points_at_lesson_2(
    conn: Connection, unique: Callable[[str], str]
) -> None:
    """librdkafka's consumer never auto-creates a topic: a missing one is UNKNOWN_TOPIC_OR_PART."""
    consumer = clients.consumer(conn, unique("group"))
    consumer.subscribe([unique("no-such-topic")])
    try:
        deadline, error = time.monotonic() + 10, None
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                error = message.error()
    finally:
        consumer.close()
    assert error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, error
    assert "Subscribed topic not available" in error.str()  # as lesson 2 quotes it
    assert explain(error).endswith("see `kafkalab lesson 2 --explain`"), explain(error)
