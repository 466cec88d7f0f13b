"""The registry's Avro rules: schema identity, parsing, and every compatibility level.

Identity tests assert Confluent's behaviour: a schema is its Java-Avro canonical string
(AvroSchema.canonicalString), not its JSON re-dumped with sorted keys.
"""

from __future__ import annotations

import json

import pytest

from kafkalab.cluster.registry.compatibility import (
    CompatibilityLevel,
    InvalidLevel,
    InvalidSchema,
    PastVersion,
    check,
    check_schema_type,
    parse,
    parse_level,
    prepare,
)


def normalize(text: str) -> str:
    """The identity the registry gives `text` (its canonical string)."""
    return prepare(text).text


def record(*fields: dict[str, object], name: str = "User") -> str:
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


NAME = {"name": "name", "type": "string"}
EMAIL = {"name": "email", "type": ["null", "string"], "default": None}
AGE = {"name": "age", "type": "int"}  # no default

V1 = record(NAME)
ADD_OPTIONAL = record(NAME, EMAIL)
ADD_REQUIRED = record(NAME, AGE)
DROP_NAME = record(EMAIL)
NAME_AS_INT = record({"name": "name", "type": "int"})


def test_normalize_ignores_spacing_and_key_order() -> None:
    spaced = (
        '{ "name" : "User", "type": "record",\n "fields": [{"type": "string", "name": "name"}]}'
    )
    assert normalize(spaced) == normalize(V1)


def test_normalize_keeps_list_order() -> None:
    swapped = record(EMAIL, NAME)
    assert normalize(swapped) != normalize(ADD_OPTIONAL)
    enum_ab = json.dumps({"type": "enum", "name": "E", "symbols": ["A", "B"]})
    enum_ba = json.dumps({"type": "enum", "name": "E", "symbols": ["B", "A"]})
    assert normalize(enum_ab) != normalize(enum_ba)


def test_normalize_rejects_text_that_is_not_json() -> None:
    with pytest.raises(InvalidSchema, match="not JSON"):
        normalize("{not json")


@pytest.mark.parametrize("text", ["", "   ", '{"type": "record", "name": "X"}', '"nope"', "{"])
def test_parse_rejects_what_is_not_avro(text: str) -> None:
    with pytest.raises(InvalidSchema):
        parse(text)


def test_parse_accepts_primitive_and_record() -> None:
    assert parse('"string"').type == "string"
    assert parse(V1).type == "record"


def test_schema_type_defaults_to_avro_and_refuses_others() -> None:
    assert check_schema_type(None) == "AVRO"
    assert check_schema_type("avro") == "AVRO"
    with pytest.raises(InvalidSchema, match="Invalid schema type PROTOBUF"):
        check_schema_type("PROTOBUF")


def test_levels_parse_in_any_case_and_reject_unknown_names() -> None:
    assert parse_level("full_transitive") is CompatibilityLevel.FULL_TRANSITIVE
    assert parse_level("None") is CompatibilityLevel.NONE
    with pytest.raises(InvalidLevel, match="Invalid compatibility level"):
        parse_level("SIDEWAYS")


@pytest.mark.parametrize(
    ("level", "new", "compatible"),
    [
        # A new optional field with a default: fine in every direction.
        ("BACKWARD", ADD_OPTIONAL, True),
        ("FORWARD", ADD_OPTIONAL, True),
        ("FULL", ADD_OPTIONAL, True),
        # A new field without a default: the new reader cannot fill it in old data.
        ("BACKWARD", ADD_REQUIRED, False),
        ("FORWARD", ADD_REQUIRED, True),
        ("FULL", ADD_REQUIRED, False),
        # Dropping a field without a default: old readers miss it in new data.
        ("BACKWARD", DROP_NAME, True),
        ("FORWARD", DROP_NAME, False),
        ("FULL", DROP_NAME, False),
        # A changed type breaks both ways, unless checks are off.
        ("BACKWARD", NAME_AS_INT, False),
        ("FORWARD", NAME_AS_INT, False),
        ("NONE", NAME_AS_INT, True),
    ],
)
def test_each_level_puts_the_right_schema_in_the_readers_seat(
    level: str, new: str, compatible: bool
) -> None:
    problems = check(CompatibilityLevel(level), new, [PastVersion(1, V1)])
    assert (problems == []) is compatible


# v2 drops `f`; v3 brings it back as a string. v3 reads v2 data, but not v1 data (int vs string).
F_INT = record({"name": "f", "type": "int"}, name="R")
ONLY_G = record({"name": "g", "type": ["null", "string"], "default": None}, name="R")
F_STRING = record(
    {"name": "g", "type": ["null", "string"], "default": None},
    {"name": "f", "type": "string", "default": ""},
    name="R",
)
HISTORY = [PastVersion(1, F_INT), PastVersion(2, ONLY_G)]


def test_non_transitive_levels_look_only_at_the_latest_version() -> None:
    assert check(CompatibilityLevel.BACKWARD, F_STRING, HISTORY) == []


def test_transitive_levels_look_at_every_version() -> None:
    problems = check(CompatibilityLevel.BACKWARD_TRANSITIVE, F_STRING, HISTORY)
    assert problems
    assert "{oldSchemaVersion: 1}" in problems
    assert problems[-1] == "{validateFields: 'false', compatibility: 'BACKWARD_TRANSITIVE'}"


def test_problems_say_what_broke_and_against_which_version() -> None:
    """Confluent's message list: the Difference, the old version and schema, then the level."""
    problems = check(CompatibilityLevel.BACKWARD, ADD_REQUIRED, [PastVersion(4, V1)])
    assert problems[0].startswith("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'")
    assert (
        "The field 'age' at path '/fields/1' in the new schema has no default value" in problems[0]
    )
    assert problems[1:] == [
        "{oldSchemaVersion: 4}",
        f"{{oldSchema: '{V1}'}}",
        "{validateFields: 'false', compatibility: 'BACKWARD'}",
    ]


def test_a_first_version_is_always_compatible() -> None:
    assert check(CompatibilityLevel.FULL_TRANSITIVE, V1, []) == []
