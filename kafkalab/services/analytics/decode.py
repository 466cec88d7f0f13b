"""analytics' Avro input: kafkalab's fast decoder behind quixstreams' Deserializer interface.

quixstreams' own AvroDeserializer runs confluent's deserializer for every record (a registry
cache lookup and a schema resolution each time: ~9 % of the app's CPU under load). This one
decodes with `events.fastdecode.FastDecoder` — fastavro's schemaless reader and each writer
schema fetched once per id — into the same plain values the services see. Bytes that are not
registered Avro raise quixstreams' SerializationError, which `on_consumer_error` parks on
`analytics.DLT` as before.
"""

from __future__ import annotations

from typing import Any

from quixstreams.models.serializers import Deserializer, SerializationContext, SerializationError

from kafkalab.events.fastdecode import FastDecoder
from kafkalab.events.schema_client import SchemaClient
from kafkalab.events.serde import UndecodableEvent


class FastAvroDeserializer(Deserializer):
    """A platform event's value (Confluent-framed Avro) → a plain dict."""

    def __init__(self, registry: SchemaClient) -> None:
        super().__init__()
        self.decoder = FastDecoder(registry)

    def __call__(self, value: bytes, ctx: SerializationContext) -> dict[str, Any]:
        try:
            return self.decoder.value(value)[1]
        except UndecodableEvent as exc:
            raise SerializationError(str(exc)) from exc
