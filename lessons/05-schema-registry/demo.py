"""Lesson 5: register a schema, evolve it compatibly, see an incompatible change refused (409),
and read every record with the old and the new schema."""

from __future__ import annotations

import json
from typing import Any

import httpx
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab import clients
from kafkalab.curriculum.lab import Lab

from .check import Seen

PER_VERSION = 5
FIELDS_V1: list[dict[str, Any]] = [
    {"name": "id", "type": "string"},
    {"name": "name", "type": "string"},
]
# Compatible: a new field with a default. Old readers ignore it; new readers of old data get null.
EMAIL: dict[str, Any] = {"name": "email", "type": ["null", "string"], "default": None}
# Incompatible: `name` becomes an int — a reader on this schema cannot read the old strings.
NAME_AS_INT: dict[str, Any] = {"name": "name", "type": "int"}
# BACKWARD only: a reader without `name` reads the old data, a v2 reader could not read the new.
WITHOUT_NAME: list[dict[str, Any]] = [FIELDS_V1[0], EMAIL]


def schema(fields: list[dict[str, Any]]) -> str:
    record = {"type": "record", "name": "Customer", "namespace": "lesson05", "fields": fields}
    return json.dumps(record)


def demo(lab: Lab) -> Seen:
    topic = lab.topic("customers")
    subject = f"{topic}-value"  # TopicNameStrategy, the default subject.name.strategy
    registry = clients.schema_registry(lab.conn)
    v1, v2 = schema(FIELDS_V1), schema([*FIELDS_V1, EMAIL])
    default = registry.get_compatibility()  # the registry-wide level: BACKWARD unless changed
    registry.set_compatibility(subject_name=subject, level="BACKWARD")  # pin it for this subject
    level = level_over_rest(lab, subject)
    lab.say(f"Compatibility: registry default {default}; GET /config/{subject} says {level}.")

    producer = lab.producer()
    ids = [registry.register_schema(subject, Schema(v1, "AVRO"))]
    lab.say(f"v1 registered with id {ids[0]}; writing {PER_VERSION} records with it.")
    write(
        producer,
        topic,
        registry,
        v1,
        [{"id": f"c{i}", "name": f"Ada {i}"} for i in range(PER_VERSION)],
    )

    compatible = registry.test_compatibility(subject, Schema(v2, "AVRO"))  # asks, registers nothing
    ids.append(registry.register_schema(subject, Schema(v2, "AVRO")))
    lab.say(f"v2 adds an optional email: compatible={compatible}, registered with id {ids[1]}.")
    people = [
        {"id": f"c{i}", "name": f"Bob {i}", "email": f"bob{i}@example.com"}
        for i in range(PER_VERSION)
    ]
    write(producer, topic, registry, v2, people)

    refused = None
    try:
        registry.register_schema(subject, Schema(schema([FIELDS_V1[0], NAME_AS_INT]), "AVRO"))
    except SchemaRegistryError as error:  # 409 Conflict: the subject stays at v2
        refused = error.http_status_code
        lab.say(f"v3 (name: string → int) refused: {refused} {error.error_message[:160]}…")
    versions = registry.get_versions(subject)
    # What only BACKWARD allows: a reader on the new schema can read the old data, but a
    # reader on v2 could not read a record without `name` (FORWARD and FULL refuse it).
    drop_name = registry.test_compatibility(subject, Schema(schema(WITHOUT_NAME), "AVRO"))
    lab.say(f"Dropping `name` (new readers fine, old readers broken): compatible={drop_name}.")

    raw = read_all(lab, topic, 2 * PER_VERSION)
    # Confluent wire format: magic byte 0, the 4-byte big-endian schema id, then the Avro body.
    wire_ids = [int.from_bytes(value[1:5], "big") for value in raw]
    # A reader schema: each record is decoded with its writer's schema (fetched by id), then
    # resolved to the reader's fields — dropped if the reader lacks them, defaulted if new.
    old_reader, new_reader = AvroDeserializer(registry, v1), AvroDeserializer(registry, v2)
    ctx = SerializationContext(topic, MessageField.VALUE)
    old_seen = [old_reader(value, ctx) for value in raw]
    new_seen = [new_reader(value, ctx) for value in raw]
    lab.table(
        "every record, read with each schema",
        ["offset", "schema id", "v1 reader gets", "v2 reader gets email"],
        [
            [n, wire_ids[n], ", ".join(old_seen[n]), new_seen[n]["email"] or "null (its default)"]
            for n in range(len(raw))
        ],
    )
    return Seen(
        level,
        versions,
        ids,
        compatible,
        refused,
        wire_ids,
        old_seen,
        new_seen,
        PER_VERSION,
        drop_name,
    )


def level_over_rest(lab: Lab, subject: str) -> str | None:
    """The subject's compatibility level as the registry's REST API answers a plain GET
    (`curl $REGISTRY/config/<subject>`): what the registry stored, not what we asked for."""
    conn = lab.conn
    user, _, password = (conn.registry_user_info or "").partition(":")
    answer = httpx.get(
        f"{conn.registry_url}/config/{subject}",
        auth=(user, password) if user else None,
        verify=conn.registry_ca_location or True,
        timeout=10,
    )
    return answer.json().get("compatibilityLevel") if answer.status_code == 200 else None


def write(
    producer: Producer,
    topic: str,
    registry: SchemaRegistryClient,
    schema_text: str,
    values: list[dict[str, str]],
) -> None:
    # auto.register.schemas=False: the serializer only looks its schema up, never registers it.
    serializer = AvroSerializer(registry, schema_text, conf={"auto.register.schemas": False})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for value in values:
        producer.produce(topic, key=value["id"], value=serializer(value, ctx))
    producer.flush(30)


def read_all(lab: Lab, topic: str, expected: int) -> list[bytes]:
    consumer = lab.consumer(lab.group("reader"))
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    try:
        while len(values) < expected:
            message = consumer.poll(10)
            if message is None:
                break  # nothing for 10 s: the check will say what is missing
            if not message.error():
                values.append(message.value() or b"")
    finally:
        consumer.close()
    return values
