"""The `_schemas` records and the state every registry replays from them (no broker needed)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kafkalab.cluster.registry.compatibility import CompatibilityLevel, prepare
from kafkalab.cluster.registry.errors import (
    InvalidCompatibilityLevel,
    InvalidSchemaError,
    InvalidVersion,
    SchemaNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from kafkalab.cluster.registry.records import (
    ConfigRecord,
    Record,
    SchemaRecord,
    Tombstone,
    decode,
    encode,
)
from kafkalab.cluster.registry.state import RegistryState
from kafkalab.cluster.registry.store import parse_version, valid_level, valid_schema

A = '{"type": "record", "name": "A", "fields": [{"name": "a", "type": "string"}]}'
A_RESPACED = '{"fields":[{"type":"string","name":"a"}],"name":"A","type":"record"}'
B = '{"type": "record", "name": "B", "fields": [{"name": "b", "type": "long"}]}'


def replay(*records: Record) -> RegistryState:
    state = RegistryState()
    for record in records:
        state.apply(record)
    return state


# --- Wire format


def test_schema_record_key_and_value_are_confluents() -> None:
    key, value = encode(SchemaRecord("orders-value", 3, 7, A))
    assert key == b'{"keytype":"SCHEMA","subject":"orders-value","version":3}'
    assert value is not None
    assert json.loads(value) == {
        "subject": "orders-value",
        "version": 3,
        "id": 7,
        "schema": A,
        "deleted": False,
    }  # no schemaType for AVRO


def test_config_records_and_tombstones_encode_as_documented() -> None:
    key, value = encode(ConfigRecord(None, CompatibilityLevel.FULL))
    assert key == b'{"keytype":"CONFIG","subject":null}'
    assert value == b'{"compatibilityLevel":"FULL"}'
    assert encode(ConfigRecord("s", None)) == (b'{"keytype":"CONFIG","subject":"s"}', None)
    assert encode(Tombstone("s", 2)) == (b'{"keytype":"SCHEMA","subject":"s","version":2}', None)


@pytest.mark.parametrize(
    "record",
    [
        SchemaRecord("s", 1, 1, A),
        SchemaRecord("s", 2, 5, B, deleted=True),
        ConfigRecord("s", CompatibilityLevel.NONE),
        ConfigRecord(None, CompatibilityLevel.BACKWARD_TRANSITIVE),
        ConfigRecord(None, None),
        Tombstone("s", 4),
    ],
)
def test_records_survive_a_round_trip(record: Record) -> None:
    assert decode(*encode(record)) == record


def test_keys_this_registry_does_not_use_are_skipped() -> None:
    assert decode(b'{"keytype":"NOOP","magic":0}', b"") is None
    assert decode(None, b"{}") is None


def test_malformed_records_raise_so_the_reader_can_skip_them() -> None:
    with pytest.raises(ValueError):
        decode(b"not json", b"{}")
    key = b'{"keytype":"SCHEMA","subject":"s","version":1}'
    with pytest.raises(KeyError):
        decode(key, b'{"schema": "\\"string\\""}')  # no id
    with pytest.raises(ValueError):
        decode(key, b'{"id": 1, "schema": "not json"}')


# --- Applying records: the first record by offset wins


def test_a_later_record_for_a_taken_version_loses() -> None:
    state = RegistryState()
    assert state.apply(SchemaRecord("s", 1, 1, A))
    assert not state.apply(SchemaRecord("s", 1, 2, B))
    assert state.lookup("s", 1).id == 1
    assert 2 not in state.schemas


def test_a_later_record_reusing_an_id_for_another_schema_loses() -> None:
    state = RegistryState()
    assert state.apply(SchemaRecord("s", 1, 1, A))
    assert not state.apply(SchemaRecord("t", 1, 1, B))
    assert state.subject_names() == ["s"]
    assert state.schema(1).schema == A


def test_the_same_record_twice_changes_nothing() -> None:
    once = replay(SchemaRecord("s", 1, 1, A))
    twice = replay(SchemaRecord("s", 1, 1, A), SchemaRecord("s", 1, 1, A))
    assert once == twice


def test_replaying_the_same_log_gives_the_same_state() -> None:
    log: list[Record] = [
        SchemaRecord("s", 1, 1, A),
        SchemaRecord("s", 2, 1, B),  # loses: id 1 is A
        SchemaRecord("s", 2, 2, B),
        SchemaRecord("s", 2, 3, A),  # loses: version 2 is taken
        ConfigRecord("s", CompatibilityLevel.NONE),
        SchemaRecord("s", 1, 1, A, deleted=True),
    ]
    assert replay(*log) == replay(*log)
    state = replay(*log)
    assert [r.version for r in state.versions("s")] == [2]
    assert state.level("s") is CompatibilityLevel.NONE


# --- Ids and versions


def test_the_same_schema_keeps_its_id_in_every_subject() -> None:
    state = replay(SchemaRecord("s", 1, 1, A))
    assert state.next_id(prepare(A_RESPACED).text) == 1
    assert state.next_id(prepare(B).text) == 2


def test_ids_outlive_a_hard_delete() -> None:
    state = replay(SchemaRecord("s", 1, 1, A), Tombstone("s", 1))
    assert state.subject_names(deleted=True) == []
    assert state.schema(1).schema == A  # old data written with id 1 still decodes
    assert state.next_id(prepare(B).text) == 2  # and id 1 is never handed to another schema


def test_versions_count_on_past_soft_deletes_but_restart_after_a_hard_delete() -> None:
    soft = replay(SchemaRecord("s", 1, 1, A), SchemaRecord("s", 1, 1, A, deleted=True))
    assert soft.next_version("s") == 2
    hard = replay(SchemaRecord("s", 1, 1, A), Tombstone("s", 1))
    assert hard.next_version("s") == 1


def test_find_matches_a_schema_whatever_its_spacing() -> None:
    state = replay(SchemaRecord("s", 1, 1, A), SchemaRecord("s", 2, 2, B))
    found = state.find("s", prepare(A_RESPACED))
    assert found is not None and (found.version, found.id) == (1, 1)
    assert state.find("other", prepare(A)) is None


def test_find_skips_soft_deleted_versions_unless_asked() -> None:
    state = replay(SchemaRecord("s", 1, 1, A, deleted=True), SchemaRecord("s", 2, 2, B))
    assert state.find("s", prepare(A)) is None
    assert state.find("s", prepare(A), deleted=True) is not None


# --- Queries and their errors


def test_lookup_latest_and_missing_versions() -> None:
    state = replay(SchemaRecord("s", 1, 1, A), SchemaRecord("s", 2, 2, B))
    assert state.lookup("s", None).version == 2
    with pytest.raises(VersionNotFound, match=r"^Version 9 not found\.$"):
        state.lookup("s", 9)
    with pytest.raises(SubjectNotFound, match=r"^Subject 'nope' not found\.$") as caught:
        state.lookup("nope", None)
    assert (caught.value.status, caught.value.code) == (404, 40401)


def test_a_fully_soft_deleted_subject_is_hidden_unless_asked() -> None:
    first = SchemaRecord("s", 1, 1, A)
    state = replay(first, replace(first, deleted=True))
    assert state.subject_names() == []
    assert state.subject_names(deleted=True) == ["s"]
    assert state.subject_names(deleted_only=True) == ["s"]
    with pytest.raises(SubjectNotFound):
        state.lookup("s", 1)
    assert state.lookup("s", 1, deleted=True).deleted


def test_usages_list_every_subject_version_of_an_id() -> None:
    state = replay(
        SchemaRecord("t", 1, 1, A), SchemaRecord("s", 1, 1, A), SchemaRecord("s", 2, 2, B)
    )
    assert [(r.subject, r.version) for r in state.usages(1)] == [("s", 1), ("t", 1)]
    with pytest.raises(SchemaNotFound, match=r"^Schema 42 not found$"):
        state.usages(42)


def test_subject_level_overrides_global_which_overrides_backward() -> None:
    state = RegistryState()
    assert state.level("s") is CompatibilityLevel.BACKWARD
    state.apply(ConfigRecord(None, CompatibilityLevel.FULL))
    assert state.level("s") is CompatibilityLevel.FULL
    state.apply(ConfigRecord("s", CompatibilityLevel.NONE))
    assert state.level("s") is CompatibilityLevel.NONE
    assert state.level("t") is CompatibilityLevel.FULL
    state.apply(ConfigRecord("s", None))
    assert state.level("s") is CompatibilityLevel.FULL
    # A subject that only sets normalize still inherits the global level.
    state.apply(ConfigRecord("s", None, True))
    assert state.level("s") is CompatibilityLevel.FULL
    assert state.normalize("s") is True and state.normalize("t") is False


def test_response_bodies_match_confluent() -> None:
    assert SchemaRecord("s", 2, 5, A).response() == {
        "subject": "s",
        "id": 5,
        "version": 2,
        "schema": A,
    }


# --- Request validation


@pytest.mark.parametrize(("text", "expected"), [("latest", None), ("-1", None), ("3", 3)])
def test_versions_in_urls(text: str, expected: int | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["0", "-2", "abc", str(2**31), "1.5"])
def test_invalid_versions_are_422_42202(text: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        parse_version(text)
    assert (caught.value.status, caught.value.code) == (422, 42202)


def test_invalid_schemas_are_422_42201() -> None:
    for schema, schema_type in [({"type": "string"}, None), ("{", None), (A, "JSON")]:
        with pytest.raises(InvalidSchemaError) as caught:
            valid_schema(schema, schema_type)
        assert (caught.value.status, caught.value.code) == (422, 42201)
    assert valid_schema(A, "AVRO").text == prepare(A).text


def test_invalid_levels_are_422_42203() -> None:
    with pytest.raises(InvalidCompatibilityLevel) as caught:
        valid_level("MOSTLY")
    assert (caught.value.status, caught.value.code) == (422, 42203)
