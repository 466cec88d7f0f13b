"""Lesson 5's grader: the subject's versions, asked of the registry; the schema id in each record's
header and what readers on v1 and v2 make of the records, read back from the topic; and the
schemas the learner reports as refused, checked against the registry once more."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab import clients
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, read_all
from kafkalab.verdict import Check, equal

# Version 1, exactly as exercise.py shows it.
V1: dict[str, Any] = {
    "type": "record",
    "name": "Customer",
    "namespace": "lesson05",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "country", "type": "string"},
    ],
}
SEEDED = 5
NEW = 6
NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
COUNTRIES = ["NL", "FR", "DE", "IE", "PT", "FI"]

SKIPPED = "only v1's fields: the new one is skipped"
EVERY = "every field, the new one included"
ERROR = "an error: it cannot read the record"

CHANGE = (
    'write V2 as v1 plus the customers\' email with a default (`["null", "string"]`, '
    "default null), or v1 minus a field; register() then makes it version 2"
)
BREAK = (
    "BREAKING must be a change BACKWARD refuses: a new field without a default, or a field "
    "whose type changes (string → int)"
)


def _customer(used: set[str]) -> dict[str, str]:
    while True:  # new ids every run: a hard-coded answer cannot pass
        key = f"c-{secrets.token_hex(3)}"
        if key not in used:
            used.add(key)
            break
    name = f"{secrets.choice(NAMES)} {secrets.randbelow(900) + 100}"
    return {
        "id": key,
        "name": name,
        "country": secrets.choice(COUNTRIES),
        "email": f"{name.split()[0].lower()}.{key}@example.com",
    }


def prepare(lab: Lab) -> Task:
    topic = lab.topic("customers")
    refused = lab.topic("refused")
    subject = f"{topic}-value"
    registry = clients.schema_registry(lab.conn)
    registry.set_compatibility(subject_name=subject, level="BACKWARD")
    v1 = json.dumps(V1)
    registry.register_schema(subject, Schema(v1, "AVRO"))
    used: set[str] = set()
    seeded = [_customer(used) for _ in range(SEEDED)]
    customers = [_customer(used) for _ in range(NEW)]
    serializer = AvroSerializer(registry, v1, conf={"auto.register.schemas": False})
    context = SerializationContext(topic, MessageField.VALUE)
    producer = lab.producer()
    for customer in seeded:
        producer.produce(topic, key=customer["id"], value=serializer(customer, context))
    producer.flush(30)
    return Task(
        topics={"customers": topic, "refused": refused},
        params={"customers": customers},
        private={"subject": subject},
    )


def _schema_id(record: Record) -> int | None:
    """The id in the Confluent wire format header: magic byte 0, then 4 bytes big-endian."""
    value = record.value or b""
    if len(value) < 5 or value[0] != 0:
        return None
    return int.from_bytes(value[1:5], "big")


def _versions(registry: SchemaRegistryClient, subject: str) -> dict[int, int]:
    """version → schema id, for every version of the subject (none once it is deleted)."""
    try:
        numbers = registry.get_versions(subject)
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            return {}
        raise
    return {v: registry.get_version(subject, v).schema_id for v in numbers}


def _v2_check(versions: dict[int, int], ids: Counter[int | None], subject: str) -> Check:
    name = "your compatible change is version 2"
    numbers = sorted(versions)
    if numbers == [1, 2]:
        return Check(name, True, f"{subject}: versions 1 and 2")
    if 1 not in numbers:
        return Check(
            name,
            False,
            f"{subject} has versions {numbers}: version 1 is gone, so your program deleted it",
            fix="leave the registered versions alone: a consumer may still need v1 to read "
            "the records it wrote",
        )
    if len(numbers) > 2:
        yours = [v for v, i in versions.items() if i in ids]
        other = [v for v in numbers[1:] if v not in yours]
        return Check(
            name,
            False,
            f"{subject} has versions {numbers}: the registry accepted {len(numbers) - 1} new "
            f"schemas; version {other[0] if other else numbers[-1]} is not the one your records "
            "use, so a change you meant to be refused was compatible",
            fix=BREAK,
        )
    if not ids:
        return Check(
            name,
            False,
            f"only version 1 is registered under {subject}, and none of your customers reached "
            "the topic: the registry refused V2",
            fix="under BACKWARD a reader on V2 must read v1's records: a new field needs a "
            "default, and a field's type may only be promoted (int → long), not changed",
        )
    if set(ids) == {versions.get(1)}:
        return Check(
            name,
            False,
            f"only version 1 is registered under {subject}, and your records carry v1's schema "
            f"id {versions.get(1)}: V2 is still v1's schema",
            fix=CHANGE,
        )
    return Check(
        name,
        False,
        f"only version 1 is registered under {subject}; your records carry schema id(s) "
        f"{sorted(i for i in ids if i is not None)}, which are not this subject's",
        fix="register V2 under SUBJECT (`<topic>-value`, the serializer's default subject name "
        "strategy) and serialize with it",
    )


def _compatible(registry: SchemaRegistryClient, subject: str, schema: str, version: int) -> bool:
    return registry.test_compatibility(subject, Schema(schema, "AVRO"), version=version)


def _registered(registry: SchemaRegistryClient, subject: str, schema: str) -> bool:
    try:
        registry.lookup_schema(subject, Schema(schema, "AVRO"))
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            return False
        raise
    return True


def _refused_check(
    registry: SchemaRegistryClient, subject: str, reports: list[Record], latest: int
) -> Check:
    name = "your breaking change was refused, and you carried on"
    schemas = [r.text for r in reports]
    if not schemas:
        return Check(
            name,
            False,
            "no refused schema reached the `refused` topic: the registry never answered your "
            "BREAKING with a 409, or register() did not report it",
            fix=f"{BREAK}; register() catches the SchemaRegistryError whose http_status_code "
            "is 409 and calls refused()",
        )
    for schema in schemas:
        try:
            registered = _registered(registry, subject, schema)
            accepted = _compatible(registry, subject, schema, 1) and _compatible(
                registry, subject, schema, latest
            )
        except SchemaRegistryError as error:  # 42201: not a valid Avro schema at all
            return Check(
                name,
                False,
                f"the registry cannot even parse a schema you reported as refused "
                f"({error.http_status_code}): {error.error_message[:160]}",
                fix=f"BREAKING must be valid Avro that breaks BACKWARD; {BREAK}",
            )
        if registered:
            return Check(
                name,
                False,
                f"a schema you reported as refused is registered under {subject}: {schema[:120]}",
                fix=f"report only what the registry refused (the 409); {BREAK}",
            )
        if accepted:
            return Check(
                name,
                False,
                f"a schema you reported as refused is compatible with every version of "
                f"{subject}, so BACKWARD accepts it: {schema[:120]}",
                fix=BREAK,
            )
    return Check(name, True, f"{len(schemas)} incompatible schema(s) refused, none registered")


def _read(reader: AvroDeserializer, value: bytes | None, topic: str) -> dict[str, Any] | None:
    try:
        result = reader(value, SerializationContext(topic, MessageField.VALUE))
    except Exception:  # fastavro's resolution error: the reader cannot read this record
        return None
    return result if isinstance(result, dict) else None


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    topic = task.topics["customers"]
    subject: str = task.private["subject"]
    customers = {c["id"]: c for c in task.params["customers"]}
    registry = clients.schema_registry(lab.conn)
    yours = [r for r in read_all(lab.conn, topic) if r.text_key in customers]
    ids = Counter(_schema_id(r) for r in yours)
    versions = _versions(registry, subject)

    checks = [
        equal("the subject is still judged under BACKWARD", "BACKWARD", _level(registry, subject)),
        _v2_check(versions, ids, subject),
    ]
    v2 = registry.get_version(subject, 2).schema.schema_str if 2 in versions else None
    if v2 is not None:
        compatible = _compatible(registry, subject, v2, 1)
        checks.append(
            Check(
                "version 2 is BACKWARD-compatible with v1",
                compatible,
                "the registry's own test of version 2 against version 1 says "
                + ("compatible" if compatible else "incompatible: the level was lowered for it"),
                fix=""
                if compatible
                else "leave the subject's compatibility level alone and make V2 compatible: "
                + CHANGE,
            )
        )
        checks.append(_records_check(yours, customers, versions, topic, registry))
    reports = read_all(lab.conn, task.topics["refused"])
    checks.append(_refused_check(registry, subject, reports, max(versions, default=1)))
    return Graded(checks, _truths(registry, topic, versions, ids, yours))


def _level(registry: SchemaRegistryClient, subject: str) -> str:
    try:
        return str(registry.get_compatibility(subject))
    except SchemaRegistryError:  # 40408: no level of its own, the registry-wide one applies
        return f"no level of its own (the registry-wide {registry.get_compatibility()})"


def _truths(
    registry: SchemaRegistryClient,
    topic: str,
    versions: dict[int, int],
    ids: Counter[int | None],
    yours: list[Record],
) -> dict[str, Any]:
    """Which version the learner's records were written with, and what a v1 reader makes of
    one of them."""
    truths: dict[str, Any] = {}
    if not yours:
        return truths
    common = ids.most_common(1)[0][0]
    version = next((v for v, i in versions.items() if i == common), None)
    if version is None:
        return truths
    truths["version"] = version
    if version > 1:
        record = next(r for r in yours if _schema_id(r) == common)
        seen = _read(AvroDeserializer(registry, json.dumps(V1)), record.value, topic)
        if seen is None:
            truths["old_reader"] = ERROR
        else:
            v1_fields = {f["name"] for f in V1["fields"]}
            truths["old_reader"] = SKIPPED if set(seen) == v1_fields else EVERY
    return truths


def _records_check(
    yours: list[Record],
    customers: dict[str, dict[str, str]],
    versions: dict[int, int],
    topic: str,
    registry: SchemaRegistryClient,
) -> Check:
    name = "your customers are written with version 2"
    v2_id = versions[2]
    count = Counter(r.text_key for r in yours)
    missing = [k for k in customers if k not in count]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(customers)} new customers never reached the topic "
            f"(e.g. {missing[0]})",
            fix="produce every customer with V2's serializer, then flush() before the end",
        )
    twice = [k for k, n in count.items() if n > 1]
    if twice:
        return Check(name, False, f"customer {twice[0]} is on the topic {count[twice[0]]} times")
    others = [r for r in yours if _schema_id(r) != v2_id]
    if others:
        seen = _schema_id(others[0])
        which = next((f"version {v}" for v, i in versions.items() if i == seen), "no version")
        return Check(
            name,
            False,
            f"{len(others)} of {len(yours)} records carry schema id {seen} ({which} of the "
            f"subject), not version 2's id {v2_id}",
            fix="serialize the customers with V2: AvroSerializer(registry, V2, ...)",
        )
    writer = AvroDeserializer(registry)  # no reader schema: each record as its writer wrote it
    for record in yours:
        read = _read(writer, record.value, topic) or {}
        sent = customers[record.text_key]
        wrong = [f for f in read if f in sent and read[f] != sent[f]]
        if wrong:
            return Check(
                name,
                False,
                f"customer {record.text_key} reads back with {wrong[0]}={read[wrong[0]]!r}, "
                f"but was sent with {sent[wrong[0]]!r}",
                fix="serialize each customer dict as it is: the serializer fills in only "
                "what a field's default says",
            )
    return Check(name, True, f"all {len(yours)} records carry version 2's schema id {v2_id}")
