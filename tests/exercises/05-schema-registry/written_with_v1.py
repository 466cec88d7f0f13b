# expect: not version 2's id
"""Lesson 5 exercise — evolve a schema the registry accepts.

Goal: the subject `<topic>-value` holds v1 of `Customer`, judged under BACKWARD, and the topic
already holds records written with it. (1) Write `BREAKING`, a change the registry must refuse,
and make `register()` handle the refusal (HTTP 409) instead of crashing. (2) Write `V2`, a
change BACKWARD accepts (the new customers come with an `email` you may add), and produce the
new customers with it.

`kafkalab lesson 5` runs this file, then asks the registry for the subject's versions and reads
the topic back: which schema id each record carries, and what a v1 reader makes of yours.
"""

import json

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab.exercise import setup

lab = setup()
TOPIC = lab.topic("customers")
SUBJECT = f"{TOPIC}-value"  # TopicNameStrategy, the serializer's default: one subject per topic
CUSTOMERS: list[dict[str, str]] = lab.params["customers"]  # id, name, country and email

# Version 1, as the grader registered it. Avro resolves a reader's schema against the writer's
# field by field: a field the reader lacks is skipped, a field the writer lacks takes the
# reader's default — and a field with neither cannot be read.
V1 = {
    "type": "record",
    "name": "Customer",
    "namespace": "lesson05",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "country", "type": "string"},
    ],
}

# A new field without a default: a reader on this schema finds no email in v1's records and has
# nothing to put there, so BACKWARD refuses it.
EMAIL_REQUIRED = {"name": "email", "type": "string"}
BREAKING = json.dumps({**V1, "fields": [*V1["fields"], EMAIL_REQUIRED]})

# The same field, optional: a v2 reader gives v1's records email = null, its default (which
# must match the union's first branch, "null").
EMAIL_OPTIONAL = {"name": "email", "type": ["null", "string"], "default": None}
V2 = json.dumps({**V1, "fields": [*V1["fields"], EMAIL_OPTIONAL]})

registry = SchemaRegistryClient(lab.registry)
producer = Producer(lab.config)


def refused(schema: str, error: SchemaRegistryError) -> None:
    """Report a schema the registry refused on the `refused` topic, for the team to see (a CI
    job would fail the build here instead)."""
    producer.produce(
        lab.topic("refused"),
        key=SUBJECT,
        value=schema,
        headers=[("error", error.error_message[:500])],
    )
    print(f"refused with {error.http_status_code}: {error.error_message[:120]}")


def register(schema: str) -> int | None:
    """Register `schema` as the subject's next version: its schema id, or None when the
    registry refuses it as incompatible."""
    # The registry judges the schema against the subject's latest version, by the subject's
    # compatibility level, and writes nothing if it is refused.
    try:
        return registry.register_schema(SUBJECT, Schema(schema, "AVRO"))
    except SchemaRegistryError as error:
        if error.http_status_code != 409:  # 409 Conflict: incompatible; anything else is not
            raise
        refused(schema, error)
        return None


register(BREAKING)  # must be refused: nothing is registered, and the program carries on

if register(V2) is not None:
    # auto.register.schemas=False: the serializer only looks V2 up in the subject, as production
    # producers do when a CI job registers the schemas; an unregistered V2 fails here (40403).
    serializer = AvroSerializer(registry, json.dumps(V1), conf={"auto.register.schemas": False})
    context = SerializationContext(TOPIC, MessageField.VALUE)
    for customer in CUSTOMERS:
        # The value starts with magic byte 0 and V2's 4-byte schema id (the Confluent wire
        # format): a consumer fetches the writer's schema by that id.
        producer.produce(TOPIC, key=customer["id"], value=serializer(customer, context))

producer.flush(30)  # waits for every delivery report: the records are on the broker after this
print(f"subject {SUBJECT}: versions {registry.get_versions(SUBJECT)}")
