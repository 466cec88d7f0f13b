"""The services' own Avro writer and registry client against confluent-kafka's, on kafkalab's
registry: the same subjects, the same bytes, and the registry's refusals as our errors."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab.connection import Connection
from kafkalab.events.schema_client import SchemaClient, SchemaRequestFailed
from kafkalab.events.schemas import schema_text
from kafkalab.events.serde import EventSerde, subject
from kafkalab.explained import REGISTRY_INCOMPATIBLE, error_name
from kafkalab.settings import Settings

pytestmark = pytest.mark.integration


def _order_created() -> dict[str, object]:
    return {
        "order_id": str(uuid.uuid4()),
        "user_id": "user-1",
        "items": [{"sku": "p-1", "quantity": 2, "unit_price_cents": 1299}],
        "total_cents": 2598,
        "card_masked": "****4242",
        "card_number": "",
        "event_id": str(uuid.uuid4()),
        "occurred_at": 1_796_000_000_123,
    }


def test_events_are_written_as_confluents_serializer_writes_them(
    conn: Connection, cluster: Settings
) -> None:
    topic = f"serde-{uuid.uuid4().hex[:8]}"
    value = _order_created()
    ours = EventSerde(conn).serialize(topic, "OrderCreated", value)

    registry = SchemaRegistryClient(conn.registry())
    theirs = AvroSerializer(
        registry,
        schema_text("OrderCreated"),
        conf={"subject.name.strategy": topic_record_subject_name_strategy},
    )(value, SerializationContext(topic, MessageField.VALUE))

    assert ours == theirs
    assert subject(topic, "OrderCreated") in registry.get_subjects()
    read = AvroDeserializer(registry)(ours, SerializationContext(topic, MessageField.VALUE))
    assert read is not None and read["order_id"] == value["order_id"]
    assert EventSerde(conn)._decoder.value(ours) == ("OrderCreated", value)


def test_the_registrys_refusals_are_our_errors(conn: Connection, cluster: Settings) -> None:
    client = SchemaClient(conn)
    with pytest.raises(SchemaRequestFailed) as unknown:
        client.schema_text(987_654)
    assert unknown.value.http_status_code == 404

    name = f"serde-{uuid.uuid4().hex[:8]}-value"
    record = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    first = client.register(name, json.dumps(record))
    assert client.register(name, json.dumps(record)) == first  # cached, the same id
    record["fields"] = [{"name": "a", "type": "int"}]  # not backward compatible
    with pytest.raises(SchemaRequestFailed) as refused:
        client.register(name, json.dumps(record))
    assert refused.value.http_status_code == 409
    assert error_name(refused.value) == REGISTRY_INCOMPATIBLE
    assert "409" in str(refused.value)


def test_a_registry_that_is_not_there_is_one_sentence(conn: Connection) -> None:
    nowhere = Connection(conn.bootstrap_servers, "http://127.0.0.1:9")
    with pytest.raises(SchemaRequestFailed, match="did not answer GET /schemas/ids/1"):
        SchemaClient(nowhere).schema_text(1)
