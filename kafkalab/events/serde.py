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
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message
from confluent_kafka.schema_registry import topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.schemas import schema_text

HEADER_TYPE = "event_type"
HEADER_TRACE = "trace_id"
HEADER_CAUSE = "causation_id"
HEADER_SERVICE = "service"


@dataclass
class Event:
    """One decoded record: what a service handles and what observe/ reads back."""

    topic: str
    partition: int
    offset: int
    key: str | None
    type: str
    value: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    timestamp_ms: int = 0

    @property
    def event_id(self) -> str:
        return str(self.value.get("event_id", ""))

    @property
    def trace_id(self) -> str:
        return self.headers.get(HEADER_TRACE, "")

    @property
    def causation_id(self) -> str:
        return self.headers.get(HEADER_CAUSE, "")

    @property
    def service(self) -> str:
        return self.headers.get(HEADER_SERVICE, "")


class UndecodableEvent(Exception):
    """A record that is not a registered Avro event (poison): it belongs in a dead-letter topic."""


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


class EventSerde:
    """Serializers per record type (cached: building one costs a registry round trip)."""

    def __init__(self, conn: Connection) -> None:
        self.registry = clients.schema_registry(conn)
        self._serializers: dict[str, AvroSerializer] = {}
        self._deserializer = AvroDeserializer(self.registry)

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
        """The Event in `msg`, or UndecodableEvent when it is not a registered Avro record."""
        headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
        raw = msg.value()
        try:
            value = self._deserializer(raw, SerializationContext(msg.topic(), MessageField.VALUE))
        except Exception as exc:  # noqa: BLE001 - anything unreadable is poison
            raise UndecodableEvent(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict):
            raise UndecodableEvent("empty or non-record value")
        record_type = headers.get(HEADER_TYPE) or _record_name(self, raw)
        key = msg.key()
        return Event(
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            key=key.decode(errors="replace") if isinstance(key, bytes) else key,
            type=record_type,
            value=_plain(value),
            headers=headers,
            timestamp_ms=msg.timestamp()[1],
        )


def _record_name(serde: EventSerde, raw: bytes) -> str:
    import json

    schema = serde.registry.get_schema(int.from_bytes(raw[1:5], "big"))
    return str(json.loads(schema.schema_str).get("name", "unknown"))


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """Logical types back to plain values (uuid → str, datetime → epoch ms), recursively."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, uuid.UUID):
            out[key] = str(item)
        elif hasattr(item, "timestamp") and callable(item.timestamp):
            out[key] = int(item.timestamp() * 1000)
        elif isinstance(item, list):
            out[key] = [_plain(i) if isinstance(i, dict) else i for i in item]
        elif isinstance(item, dict):
            out[key] = _plain(item)
        else:
            out[key] = item
    return out
