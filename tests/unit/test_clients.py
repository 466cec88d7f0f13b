"""`clients.is_fatal`: the test every consumer loop of kafkalab uses to give up on a client;
`clients.high_watermarks`' one kind of failure."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from kafkalab import clients


def test_a_fatal_error_handed_over_as_a_message_counts_as_fatal() -> None:
    """A fenced static member's error arrives on a message with code _FATAL and the fatal flag
    unset (the order service kept running, deaf, after one such error under a broker fault)."""
    fenced = KafkaError(KafkaError._FATAL, "Static consumer fenced by other consumer")
    assert not fenced.fatal()
    assert clients.is_fatal(fenced)


def test_a_fenced_static_member_counts_as_fatal_without_the_flag() -> None:
    """A commit refused because the static member was fenced carries the broker's code."""
    assert clients.is_fatal(KafkaError(KafkaError.FENCED_INSTANCE_ID, "fenced"))


def test_the_fatal_flag_counts_and_retriable_errors_do_not() -> None:
    assert clients.is_fatal(KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True))
    assert not clients.is_fatal(KafkaError(KafkaError._TRANSPORT, "connection refused"))
    assert not clients.is_fatal(KafkaError(KafkaError._PARTITION_EOF))


def test_end_offsets_that_do_not_come_in_time_raise_a_kafka_exception() -> None:
    """Callers retry on KafkaException; the future's own TimeoutError used to slip past them
    (an order event dead-lettered as TimeoutError on a busy CI machine)."""

    class SlowAdmin:
        def list_offsets(self, wanted: dict[Any, Any], request_timeout: float) -> dict[Any, Any]:
            return {tp: concurrent.futures.Future() for tp in wanted}

    with pytest.raises(KafkaException, match="no end offsets within"):
        clients.high_watermarks(SlowAdmin(), [TopicPartition("t", 0)], timeout=0.01)  # type: ignore[arg-type]
