"""HTTP behaviour of kafkalab's registry, checked against what Confluent's registry answers.

Every case goes through real HTTP to the registry the session fixture started. Sources:
- Confluent schema-registry v8.3.1, core/src/test/java/io/confluent/kafka/schemaregistry/rest/
  RestApiTest.java and RestApiCompatibilityTest.java, and its resources (CompatibilityResource,
  ModeResource, ConfigResource, SchemasResource, ContextsResource) where a test was missing;
- Karapace, tests/integration/test_schema.py.
Tests that change the global mode or config put it back before they end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest

from kafkalab.settings import Settings

pytestmark = pytest.mark.integration

Unique = Callable[[str], str]


@pytest.fixture
def http(cluster: Settings) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.schema_registry_url(), timeout=30) as client:
        yield client


def record(name: str, *fields: dict[str, object]) -> str:
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


F1 = {"type": "string", "name": "f1"}
F2 = {"type": "string", "name": "f2"}
F3 = {"type": "string", "name": "f3"}


def register(http: httpx.Client, subject: str, schema: str, **body: object) -> httpx.Response:
    return http.post(
        f"/subjects/{quote(subject, safe='')}/versions", json={"schema": schema, **body}
    )


def error(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["error_code"]


# --- Identity: the canonical string


def test_the_same_schema_in_another_text_is_found(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testCanonicalization, and issue 10's `{"type":"int","name":"x"}`: another
    spacing, key order or an ignored key registers and looks up as the first registration."""
    subject = unique("canon")
    first = register(http, subject, '{"type":"int","name":"x"}').json()
    assert register(http, subject, '{   "type":   "int"}').json()["id"] == first["id"]
    found = http.post(f"/subjects/{subject}", json={"schema": '"int"'}).json()
    assert (found["id"], found["version"]) == (first["id"], 1)
    assert http.get(f"/subjects/{subject}/versions").json() == [1]
    # GET answers the compact canonical string, not the text first sent.
    assert http.get(f"/schemas/ids/{first['id']}").json() == {"schema": '"int"'}


def test_get_answers_the_canonical_string(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testGetVersion/testGetOnlySchemaById register canonical strings and read them
    back unchanged; a spaced-out text comes back compact, name before namespace."""
    subject = unique("canon")
    sent = json.dumps(
        {"fields": [{"type": "long", "name": "id"}], "type": "record", "name": "k.Order"}, indent=2
    )
    schema_id = register(http, subject, sent).json()["id"]
    canonical = (
        '{"type":"record","name":"Order","namespace":"k","fields":[{"name":"id","type":"long"}]}'
    )
    assert http.get(f"/schemas/ids/{schema_id}").json()["schema"] == canonical
    assert http.get(f"/schemas/ids/{schema_id}/schema").text == canonical
    assert http.get(f"/subjects/{subject}/versions/1").json()["schema"] == canonical


def test_normalize_query_and_config(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testNormalizeConfigFallbackAppliedOutsideImportMode and
    testSchemaNormalization: with normalize (query or subject config) the stored schema has its
    custom properties sorted; a lookup of the raw text still finds it."""
    raw = (
        '{"type":"record","name":"myrecord","fields":'
        '[{"type":"string","name":"field1","zprop":"z","aprop":"a"}]}'
    )
    by_query = unique("norm")
    schema_id = http.post(f"/subjects/{by_query}/versions?normalize=true", json={"schema": raw})
    stored = http.get(f"/schemas/ids/{schema_id.json()['id']}").json()["schema"]
    assert '"aprop":"a","zprop":"z"' in stored
    assert http.post(f"/subjects/{by_query}", json={"schema": raw}).json()["version"] == 1

    by_config = unique("norm")
    assert http.put(f"/config/{by_config}", json={"normalize": True}).json() == {"normalize": True}
    register(http, by_config, raw)
    assert http.get(f"/subjects/{by_config}/versions/1").json()["schema"] == stored
    assert http.get(f"/config/{by_config}").json() == {
        "normalize": True,
        "compatibilityLevel": "BACKWARD",
    }


# --- Compatibility endpoint


def test_compatibility_with_a_missing_subject(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testCompatibilityNonExistentSubject: "latest" and all-versions of a missing
    subject are compatible. Karapace test_compatibility_to_non_existent_schema_version_returns_404:
    a given version of a missing, soft-deleted or hard-deleted subject is 40402."""
    subject = unique("compat")
    schema = {"schema": record("R", F1)}
    url = f"/compatibility/subjects/{subject}/versions"
    assert http.post(f"{url}/latest", json=schema).json() == {"is_compatible": True}
    assert http.post(url, json=schema).json() == {"is_compatible": True}
    assert error(http.post(f"{url}/1", json=schema)) == (404, 40402)
    register(http, subject, record("R", F1))
    http.delete(f"/subjects/{subject}/versions/1")
    assert error(http.post(f"{url}/1", json=schema)) == (404, 40402)
    assert http.post(f"{url}/latest", json=schema).json() == {"is_compatible": True}
    http.delete(f"/subjects/{subject}/versions/1?permanent=true")
    assert error(http.post(f"{url}/1", json=schema)) == (404, 40402)


def test_compatibility_with_a_missing_version(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testCompatibilityNonExistentVersion (40402) and
    testCompatibilityInvalidVersion (42202)."""
    subject = unique("compat")
    register(http, subject, record("R", F1))
    url = f"/compatibility/subjects/{subject}/versions"
    assert error(http.post(f"{url}/100", json={"schema": record("R", F1)})) == (404, 40402)
    assert error(http.post(f"{url}/earliest", json={"schema": record("R", F1)})) == (422, 42202)


def test_incompatible_registration_says_which_old_schema(
    http: httpx.Client, unique: Unique
) -> None:
    """RestApiTest.testIncompatibleSchemaBySubject: under FORWARD_TRANSITIVE, f1+f3 suits the
    latest (f1) but not the first (f1+f2); the 409 (40901) names oldSchemaVersion, oldSchema
    and the compatibility level."""
    subject = unique("compat")
    register(http, subject, record("myrecord", F1, F2))
    register(http, subject, record("myrecord", F1))
    http.put(f"/config/{subject}", json={"compatibility": "FORWARD_TRANSITIVE"})
    url = f"/compatibility/subjects/{subject}/versions"
    assert http.post(f"{url}/latest", json={"schema": record("myrecord", F1, F3)}).json() == {
        "is_compatible": True
    }
    assert http.post(url, json={"schema": record("myrecord", F1, F3)}).json() == {
        "is_compatible": False
    }
    refused = register(http, subject, record("myrecord", F1, F3))
    assert error(refused) == (409, 40901)
    message = refused.json()["message"]
    assert message.startswith(
        f'Schema being registered is incompatible with an earlier schema for subject "{subject}"'
    )
    for part in ("oldSchemaVersion:", "oldSchema:", "compatibility: 'FORWARD_TRANSITIVE'"):
        assert part in message


def test_verbose_answers_an_invalid_schema_with_its_reason(
    http: httpx.Client, unique: Unique
) -> None:
    """RestApiTest.testSchemaNormalization: testCompatibility(..., verbose=true) of a schema with
    an invalid default answers 200 with one message containing "Invalid schema"; without
    verbose it is 42201."""
    subject = unique("compat")
    bad = record("test", {"name": "string_default", "type": "string", "default": None})
    url = f"/compatibility/subjects/{subject}/versions"
    answer = http.post(f"{url}?verbose=true", json={"schema": bad})
    assert answer.status_code == 200
    body = answer.json()
    assert body["is_compatible"] is False
    assert len(body["messages"]) == 1 and "Invalid schema" in body["messages"][0]
    assert error(http.post(url, json={"schema": bad})) == (422, 42201)


# --- Invalid schemas, types, references, subjects


@pytest.mark.parametrize(
    "field",
    [
        {"type": "string", "default": None, "name": "f"},  # RestApiTest.testRegisterBadDefault
        {"type": "int", "default": "foo", "name": "f"},  # issue 10
    ],
)
def test_invalid_defaults_are_42201(
    http: httpx.Client, unique: Unique, field: dict[str, object]
) -> None:
    """RestApiTest.testRegisterBadDefault: registering and testing both answer 42201."""
    subject = unique("bad")
    bad = record("myrecord", field)
    assert error(register(http, subject, bad)) == (422, 42201)
    url = f"/compatibility/subjects/{subject}/versions/latest"
    assert error(http.post(url, json={"schema": bad})) == (422, 42201)


def test_unsupported_types_and_references_are_42201(http: httpx.Client, unique: Unique) -> None:
    """Confluent without a JSON or PROTOBUF provider answers "Invalid schema type" (42201); an
    unresolvable reference is 42201 too (RestApiTest.testRegisterInvalidSchemaBadReference).
    kafkalab's registry has neither provider and resolves no reference."""
    subject = unique("bad")
    for kind, text in [("JSON", '{"type": "object"}'), ("PROTOBUF", 'syntax = "proto3";')]:
        answer = register(http, subject, text, schemaType=kind)
        assert error(answer) == (422, 42201)
        assert answer.json()["message"] == f"Invalid schema type {kind}"
    reference = {"name": "other.Thing", "subject": "other", "version": 1}
    assert error(register(http, subject, record("R", F1), references=[reference])) == (422, 42201)
    assert http.get("/schemas/types").json() == ["AVRO"]


def test_invalid_subjects_are_42208(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testRegisterInvalidSubject: control characters make a subject invalid. A
    subject in another context is refused the same way: contexts are not supported here."""
    assert error(register(http, "\rbad\nsubject\t", '"string"')) == (422, 42208)
    assert error(register(http, f":.other:{unique('ctx')}", '"string"')) == (422, 42208)


# --- /config


def test_put_config_with_only_normalize(http: httpx.Client, unique: Unique) -> None:
    """ConfigResource: every field of the request is optional; normalize alone is accepted and
    merged with the level already set."""
    subject = unique("config")
    assert http.put(f"/config/{subject}", json={"compatibility": "FULL"}).json() == {
        "compatibility": "FULL"
    }
    assert http.put(f"/config/{subject}", json={"normalize": True}).json() == {
        "normalize": True,
        "compatibility": "FULL",
    }
    assert http.get(f"/config/{subject}").json() == {
        "normalize": True,
        "compatibilityLevel": "FULL",
    }
    assert error(http.put(f"/config/{subject}", json={"compatibility": "SIDEWAYS"})) == (
        422,
        42203,
    )


# --- /mode


def test_subject_mode_defaults_to_global_only_when_asked(
    http: httpx.Client, unique: Unique
) -> None:
    """ModeResource.getMode: a subject without its own mode is 40409 unless defaultToGlobal."""
    subject = unique("mode")
    assert error(http.get(f"/mode/{subject}")) == (404, 40409)
    assert http.get(f"/mode/{subject}?defaultToGlobal=true").json() == {"mode": "READWRITE"}
    assert http.put(f"/mode/{subject}", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert http.get(f"/mode/{subject}").json() == {"mode": "READONLY"}
    assert http.delete(f"/mode/{subject}").json() == {"mode": "READONLY"}
    assert error(http.get(f"/mode/{subject}")) == (404, 40409)
    assert error(http.delete(f"/mode/{subject}")) == (404, 40401)
    assert error(http.put(f"/mode/{subject}", json={"mode": "SIDEWAYS"})) == (422, 42204)


def test_readonly_refuses_writes_but_answers_known_schemas(
    http: httpx.Client, unique: Unique
) -> None:
    """RestApiTest.testGlobalMode (per subject here): in READONLY every write is 42205, but
    registering a schema the subject already holds still answers its id (Confluent looks the
    schema up before checking the mode)."""
    subject = unique("mode")
    schema_id = register(http, subject, record("R", F1)).json()["id"]
    http.put(f"/mode/{subject}", json={"mode": "READONLY"})
    try:
        assert register(http, subject, record("R", F1)).json()["id"] == schema_id
        with_default = record("R", F1, {"type": "string", "name": "f2", "default": ""})
        refused = register(http, subject, with_default)
        assert error(refused) == (422, 42205)
        assert "is in read-only mode" in refused.json()["message"]
        assert error(http.delete(f"/subjects/{subject}/versions/1")) == (422, 42205)
        assert error(http.delete(f"/subjects/{subject}")) == (422, 42205)
        assert error(http.put(f"/config/{subject}", json={"compatibility": "NONE"})) == (
            422,
            42205,
        )
    finally:
        http.delete(f"/mode/{subject}")
    assert register(http, subject, with_default).status_code == 200


def test_import_mode_registers_the_given_id_and_version(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testImportDifferentSchemaOnSameID and testExplicitNormalizeIgnoredInImportMode:
    in IMPORT mode a registration brings its id and version, no compatibility is checked, an id
    already naming another schema is 42205; outside IMPORT an id is 42205 too."""
    subject, other = unique("import"), unique("import")
    assert error(register(http, subject, record("R", F1), id=900001, version=1)) == (422, 42205)
    http.put(f"/mode/{subject}", json={"mode": "IMPORT"})
    http.put(f"/mode/{other}", json={"mode": "IMPORT"})
    try:
        schema_id = 800000 + int(unique("n").split("-")[1][:4], 16)
        answer = register(http, subject, record("R", F1), id=schema_id, version=3)
        assert answer.json()["id"] == schema_id
        assert http.get(f"/subjects/{subject}/versions").json() == [3]
        # An incompatible schema is imported as version 4 with another id: no check in IMPORT.
        register(http, subject, record("R", {"type": "int", "name": "f1"}), id=schema_id + 1)
        assert http.get(f"/subjects/{subject}/versions").json() == [3, 4]
        # The same id for a different schema is refused.
        clash = register(http, other, record("R", F1, F2), id=schema_id, version=1)
        assert error(clash) == (422, 42205)
        # Registering without an id is refused while importing.
        assert error(register(http, other, record("R", F2))) == (422, 42205)
    finally:
        http.delete(f"/mode/{subject}")
        http.delete(f"/mode/{other}")
    canonical = '{"type":"record","name":"R","fields":[{"name":"f1","type":"string"}]}'
    assert http.get(f"/schemas/ids/{schema_id}").json()["schema"] == canonical


def test_global_mode_and_import_over_existing_subjects(http: httpx.Client) -> None:
    """RestApiTest.testGlobalMode / ModeResource: PUT /mode sets the global mode; switching to
    IMPORT while subjects exist is 42205 unless forced. Restored to READWRITE afterwards."""
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    try:
        assert error(http.put("/mode", json={"mode": "IMPORT"})) == (422, 42205)
        assert http.put("/mode", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
        assert http.get("/mode").json() == {"mode": "READONLY"}
        assert http.get("/mode/:.:").json() == {"mode": "READONLY"}  # the default context
        assert error(register(http, "readonly-probe", '"string"')) == (422, 42205)
    finally:
        http.put("/mode", json={"mode": "READWRITE"})
    assert http.get("/mode").json() == {"mode": "READWRITE"}


# --- Listing endpoints


def test_contexts_and_schemas(http: httpx.Client, unique: Unique) -> None:
    """RestApiTest.testBasic: GET /contexts is ["."] and GET /schemas lists schemas (with
    latestOnly, the latest version of each subject). Karapace test_schema_list_endpoint."""
    assert http.get("/contexts").json() == ["."]
    subject = unique("list")
    register(http, subject, record("R", F1))
    register(http, subject, record("R", F1, {"type": "string", "name": "f2", "default": ""}))
    everything = http.get(f"/schemas?subjectPrefix={subject}").json()
    assert [(s["subject"], s["version"]) for s in everything] == [(subject, 1), (subject, 2)]
    latest = http.get(f"/schemas?subjectPrefix={subject}&latestOnly=true").json()
    assert [s["version"] for s in latest] == [2]


def test_deleted_only_lists_soft_deleted(http: httpx.Client, unique: Unique) -> None:
    """SubjectsResource/SubjectVersionsResource read `deletedOnly` (camelCase)."""
    subject = unique("deleted")
    register(http, subject, record("R", F1))
    register(http, subject, record("R", F1, {"type": "string", "name": "f2", "default": ""}))
    http.delete(f"/subjects/{subject}/versions/1")
    assert http.get(f"/subjects/{subject}/versions?deletedOnly=true").json() == [1]
    assert subject not in http.get("/subjects?deletedOnly=true").json()
    http.delete(f"/subjects/{subject}")
    assert subject in http.get("/subjects?deletedOnly=true").json()


# --- HTTP details


def test_accept_header_picks_the_content_type(http: httpx.Client) -> None:
    """Karapace test_http_headers (which mirrors Confluent's Jersey negotiation)."""
    cases = [
        ("application/json", 200, "application/json"),
        ("*/*", 200, "application/vnd.schemaregistry.v1+json"),
        (
            "application/vnd.schemaregistry.v2+json; q=0.1, application/vnd.schemaregistry+json; q=0.9",
            200,
            "application/vnd.schemaregistry+json",
        ),
        ("application/*", 200, "application/vnd.schemaregistry.v1+json"),
        ("text/*", 406, "application/vnd.schemaregistry.v1+json"),
    ]
    for accept, status, kind in cases:
        answer = http.get("/subjects", headers={"Accept": accept})
        assert (answer.status_code, answer.headers["content-type"]) == (status, kind), accept


def test_a_non_numeric_id_is_a_plain_404(http: httpx.Client) -> None:
    """Karapace test_schema_non_invalid_id (Jersey cannot convert the path parameter)."""
    answer = http.get("/schemas/ids/invalid")
    assert answer.status_code == 404
    assert answer.json() == {"error_code": 404, "message": "HTTP 404 Not Found"}
