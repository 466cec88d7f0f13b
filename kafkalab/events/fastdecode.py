"""Decode many platform events fast: fastavro's schemaless reader with each writer's schema.

The checker (`kafkalab verify`) decodes hundreds of thousands of records per run, and every
service decodes each record it consumes (`EventSerde.decode` uses this decoder too). The
confluent AvroDeserializer costs a registry-cache lookup and a reader-schema resolution per
record, and returns logical types (uuid.UUID, datetime) that had to be walked back to plain
values. Here the writer's schema is fetched from the registry once per schema id, its
logical types are stripped (a `timestamp-millis` stays the epoch-ms long it is on the wire, a
`uuid` stays its string), and fastavro's C reader decodes the bytes after the 5-byte header
straight into a plain dict.

`scripts/bench_decode.py` measures it against confluent's AvroDeserializer on one core.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema, schemaless_reader

from kafkalab.events.event import HEADER_TYPE, Event, UndecodableEvent

if TYPE_CHECKING:
    from confluent_kafka import Message

    from kafkalab.events.schema_client import SchemaClient

MAGIC = 0


def plain_schema(schema: Any) -> Any:
    """`schema` (parsed JSON) without its logicalType annotations: the wire types only."""
    if isinstance(schema, dict):
        return {k: plain_schema(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [plain_schema(s) for s in schema]
    return schema


class FastDecoder:
    """Schema id → (parsed plain schema, record name), each fetched from the registry once."""

    def __init__(self, registry: SchemaClient) -> None:
        self.registry = registry
        self._schemas: dict[int, tuple[Any, str]] = {}

    def writer(self, schema_id: int) -> tuple[Any, str]:
        found = self._schemas.get(schema_id)
        if found is None:
            try:
                text = self.registry.schema_text(schema_id)
            except Exception as exc:  # noqa: BLE001 - an unknown id is poison, not a crash
                raise UndecodableEvent(f"schema {schema_id}: {exc}") from exc
            raw = json.loads(text or "{}")
            name = str(raw.get("name", "unknown")) if isinstance(raw, dict) else "unknown"
            found = (parse_schema(plain_schema(raw)), name)
            self._schemas[schema_id] = found
        return found

    def value(self, raw: bytes | None) -> tuple[str, dict[str, Any]]:
        """(record name, plain value) of one Confluent-framed Avro value."""
        if not raw or len(raw) < 5 or raw[0] != MAGIC:
            raise UndecodableEvent("not a schema-registry framed Avro value")
        found = self._schemas.get(int.from_bytes(raw[1:5], "big"))
        schema, name = found or self.writer(int.from_bytes(raw[1:5], "big"))
        body = io.BytesIO(raw)
        body.seek(5)
        try:
            value = schemaless_reader(body, schema, None)
        except Exception as exc:  # noqa: BLE001 - truncated or foreign bytes are poison
            raise UndecodableEvent(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict):
            raise UndecodableEvent("empty or non-record value")
        return name, value

    def decode(self, msg: Message, headers: dict[str, str] | None = None) -> Event:
        """The Event in `msg`, the same as `EventSerde.decode` gives (headers may be passed in
        when the caller already decoded them to decide whether to decode the value at all)."""
        if headers is None:
            headers = decode_headers(msg)
        name, value = self.value(msg.value())
        key = msg.key()
        return Event(
            msg.topic() or "",
            msg.partition() or 0,
            msg.offset() or 0,
            key.decode(errors="replace") if isinstance(key, bytes) else key,
            headers.get(HEADER_TYPE) or name,
            value,
            headers,
            msg.timestamp()[1],
        )


def decode_headers(msg: Message) -> dict[str, str]:
    """The record's headers as text (a header with no value is the empty string)."""
    try:
        return {k: v.decode() for k, v in msg.headers() or ()}
    except (AttributeError, UnicodeDecodeError):  # a None value, or bytes that are not UTF-8
        return {k: (v or b"").decode(errors="replace") for k, v in msg.headers() or ()}
