"""confluent-kafka's own client, serializer and deserializer against kafkalab's registry.

The point (issue 10): a schema registered earlier in another textual form (other spacing, key
order, a "name" on a primitive that Avro ignores) is the same schema, so a producer configured
with `normalize.schemas=True`, or with `auto.register.schemas=False` (plus `use.latest.version`
or a plain lookup), writes bytes carrying the id of the original registration, and a consumer
reads them back. Cases after those follow confluent-kafka-python's
tests/integration/schema_registry/_sync/test_api_client.py and test_avro_serializers.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab.settings import Settings

pytestmark = pytest.mark.integration

Unique = Callable[[str], str]

# What the producer's code holds...
PRODUCER_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Payment",
        "namespace": "kafkalab.pay",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "amount", "type": "double", "default": 0.0},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
)
# ...and what someone registered earlier: the same schema written otherwise.
REGISTERED_EARLIER = """{
    "fields": [
        {"type": {"type": "string", "name": "ignored"}, "name": "id"},
        {"default": 0.0, "type": "double", "name": "amount"},
        {"name": "note", "default": null, "type": ["null", "string"]}
    ],
    "namespace": "kafkalab.pay",
    "name": "Payment",
    "type": "record"
}"""
VALUE = {"id": "p-1", "amount": 12.5, "note": None}


@pytest.fixture
def client(cluster: Settings) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": cluster.schema_registry_url()})


@pytest.fixture
def registered(cluster: Settings, unique: Unique) -> Iterator[tuple[str, int]]:
    """A topic whose value subject holds REGISTERED_EARLIER, and the id it got."""
    topic = unique("payments")
    url = f"{cluster.schema_registry_url()}/subjects/{topic}-value/versions"
    answer = httpx.post(url, json={"schema": REGISTERED_EARLIER}, timeout=30)
    assert answer.status_code == 200, answer.text
    yield topic, answer.json()["id"]


def writes_with_id(serializer: AvroSerializer, topic: str, schema_id: int) -> bytes:
    data = serializer(VALUE, SerializationContext(topic, MessageField.VALUE))
    assert data is not None
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == schema_id
    return data


def reads_back(cluster: Settings, topic: str, data: bytes) -> None:
    fresh = SchemaRegistryClient({"url": cluster.schema_registry_url()})
    context = SerializationContext(topic, MessageField.VALUE)
    assert AvroDeserializer(fresh)(data, context) == VALUE


def test_normalize_schemas_finds_the_earlier_registration(
    cluster: Settings, client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    topic, schema_id = registered
    serializer = AvroSerializer(client, PRODUCER_SCHEMA, conf={"normalize.schemas": True})
    data = writes_with_id(serializer, topic, schema_id)
    reads_back(cluster, topic, data)
    assert client.get_versions(f"{topic}-value") == [1]  # nothing new was registered


def test_auto_register_without_normalize_also_finds_it(
    cluster: Settings, client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    topic, schema_id = registered
    serializer = AvroSerializer(client, PRODUCER_SCHEMA)
    reads_back(cluster, topic, writes_with_id(serializer, topic, schema_id))
    assert client.get_versions(f"{topic}-value") == [1]


@pytest.mark.parametrize(
    "conf",
    [
        {"auto.register.schemas": False, "normalize.schemas": False},  # looks the schema up
        {"auto.register.schemas": False, "normalize.schemas": True},
        {"auto.register.schemas": False, "use.latest.version": True},  # takes the latest
    ],
    ids=["lookup", "lookup-normalized", "use-latest-version"],
)
def test_without_auto_register_the_registered_id_is_used(
    cluster: Settings,
    client: SchemaRegistryClient,
    registered: tuple[str, int],
    conf: dict[str, bool],
) -> None:
    topic, schema_id = registered
    serializer = AvroSerializer(client, PRODUCER_SCHEMA, conf=conf)
    reads_back(cluster, topic, writes_with_id(serializer, topic, schema_id))


def test_the_registry_answers_the_canonical_string(
    client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    """What every client then caches: Java Avro's compact string, not the text first sent."""
    _, schema_id = registered
    assert client.get_schema(schema_id).schema_str == (
        '{"type":"record","name":"Payment","namespace":"kafkalab.pay","fields":['
        '{"name":"id","type":"string"},'
        '{"name":"amount","type":"double","default":0.0},'
        '{"name":"note","type":["null","string"],"default":null}]}'
    )


def test_an_unknown_schema_without_auto_register_is_40403(
    client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    topic, _ = registered
    other = PRODUCER_SCHEMA.replace('"note"', '"memo"')
    serializer = AvroSerializer(client, other, conf={"auto.register.schemas": False})
    with pytest.raises(SchemaRegistryError) as caught:
        serializer(VALUE | {"memo": None}, SerializationContext(topic, MessageField.VALUE))
    assert (caught.value.http_status_code, caught.value.error_code) == (404, 40403)


# --- After confluent-kafka-python's test_api_client.py


def test_api_register_normalized_schema(client: SchemaRegistryClient, unique: Unique) -> None:
    """test_api_register_normalized_schema: register with normalize_schemas=True, then look the
    schema up (without normalising) and get the same id and subject."""
    subject = unique("normalized")
    schema_id = client.register_schema(subject, Schema(PRODUCER_SCHEMA, "AVRO"), True)
    found = client.lookup_schema(subject, Schema(REGISTERED_EARLIER, "AVRO"))
    assert (found.schema_id, found.subject, found.version) == (schema_id, subject, 1)


def test_api_get_subject_version_no_version(
    client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    """test_api_get_subject_version_no_version (40402) and _invalid (42202)."""
    topic, _ = registered
    for version, expected in [(3, (404, 40402)), (0, (422, 42202))]:
        with pytest.raises(SchemaRegistryError) as caught:
            client.get_version(f"{topic}-value", version)
        assert (caught.value.http_status_code, caught.value.error_code) == expected


def test_api_register_schema_incompatible(
    client: SchemaRegistryClient, registered: tuple[str, int]
) -> None:
    """test_api_register_schema_incompatible: 409 (their test, written for Confluent before 8.2,
    also expects error code 409; Confluent 8.2+ answers 40901, as kafkalab does)."""
    topic, _ = registered
    incompatible = PRODUCER_SCHEMA.replace('"string"}', '"int"}', 1)
    with pytest.raises(SchemaRegistryError) as caught:
        client.register_schema(f"{topic}-value", Schema(incompatible, "AVRO"))
    assert (caught.value.http_status_code, caught.value.error_code) == (409, 40901)


def test_api_config_update_and_mode(client: SchemaRegistryClient, unique: Unique) -> None:
    """test_api_subject_config_update, plus the client's mode calls."""
    subject = unique("config")
    assert client.set_compatibility(subject, "FULL_TRANSITIVE") == {
        "compatibility": "FULL_TRANSITIVE"
    }
    assert client.get_compatibility(subject) == "FULL_TRANSITIVE"
    assert client.update_mode(subject, "READONLY") == "READONLY"
    assert client.get_mode(subject) == "READONLY"
    client.delete_mode(subject)
