"""`clients.is_fatal`: the test every consumer loop of kafkalab uses to give up on a client."""

from __future__ import annotations

from confluent_kafka import KafkaError

from kafkalab import clients


def test_a_fatal_error_handed_over_as_a_message_counts_as_fatal() -> None:
    """A fenced static member's error arrives on a message with code _FATAL and the fatal flag
    unset (the order service kept running, deaf, after one such error under a broker fault)."""
    fenced = KafkaError(KafkaError._FATAL, "Static consumer fenced by other consumer")
    assert not fenced.fatal()
    assert clients.is_fatal(fenced)


def test_the_fatal_flag_counts_and_retriable_errors_do_not() -> None:
    assert clients.is_fatal(KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True))
    assert not clients.is_fatal(KafkaError(KafkaError._TRANSPORT, "connection refused"))
    assert not clients.is_fatal(KafkaError(KafkaError._PARTITION_EOF))
