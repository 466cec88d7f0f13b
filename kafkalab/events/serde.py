"""Avro (de)serialisation of platform events through the schema registry.

Several event types share one topic, so subjects are named by topic + record name
(`order-events-dev.kafkalab.events.OrderCreated`). Each event also carries its headers:
`event_type`, `trace_id` (the whole causal chain of one user action), `causation_id` (the
event that caused this one) and `service` (who wrote it) — enough to rebuild an order's path
from the topics alone.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Message
from confluent_kafka.schema_registry import topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.event import (  # noqa: F401 - re-exported: most readers import them here
    HEADER_CAUSE,
    HEADER_SERVICE,
    HEADER_TRACE,
    HEADER_TYPE,
    Event,
    UndecodableEvent,
)
from kafkalab.events.fastdecode import FastDecoder
from kafkalab.events.schemas import schema_text


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


class EventSerde:
    """Serializers per record type (cached: building one costs a registry round trip)."""

    def __init__(self, conn: Connection) -> None:
        self.registry = clients.schema_registry(conn)
        self._serializers: dict[str, AvroSerializer] = {}
        # Decoding: fastavro's schemaless reader with each writer schema, fetched once per id
        # (fastdecode.py) — ~4× less CPU per record than confluent's AvroDeserializer, the
        # same plain values.
        self._decoder = FastDecoder(self.registry)

    def serialize(self, topic: str, record_type: str, value: dict[str, Any]) -> bytes:
        serializer = self._serializers.get(record_type)
        if serializer is None:
            serializer = AvroSerializer(
                self.registry,
                schema_text(record_type),
                conf={"subject.name.strategy": topic_record_subject_name_strategy},
            )
            self._serializers[record_type] = serializer
        data = serializer(value, SerializationContext(topic, MessageField.VALUE))
        assert data is not None
        return data

    def envelope(
        self,
        record_type: str,
        value: dict[str, Any],
        service: str,
        cause: Event | None = None,
        trace_id: str | None = None,
    ) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """Complete `value` with event_id/occurred_at and build the causal headers."""
        full = {**value, "event_id": new_id(), "occurred_at": now_ms()}
        trace = trace_id or (cause.trace_id if cause and cause.trace_id else new_id())
        headers = [
            (HEADER_TYPE, record_type.encode()),
            (HEADER_TRACE, trace.encode()),
            (HEADER_SERVICE, service.encode()),
        ]
        if cause is not None:
            headers.append((HEADER_CAUSE, cause.event_id.encode()))
        return full, headers

    def decode(self, msg: Message) -> Event:
        """The Event in `msg`, or UndecodableEvent when it is not a registered Avro record
        (the reason in its message: what a dead letter's `error.message` header says)."""
        return self._decoder.decode(msg)
