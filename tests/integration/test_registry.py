"""kafkalab's schema registry, driven by confluent-kafka's own client, serializer and deserializer.

Everything here goes through HTTP to the registry the session fixture started, which keeps its
state in `_schemas` on the real broker. The last tests start a second registry process on the
same cluster and check that the two agree, even when they race.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.settings import Settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration

Unique = Callable[[str], str]


def user(*extra: dict[str, object]) -> str:
    fields = [{"name": "name", "type": "string"}, *extra]
    return json.dumps({"type": "record", "name": "User", "namespace": "kafkalab", "fields": fields})


V1 = user()
V2 = user({"name": "email", "type": ["null", "string"], "default": None})  # compatible
V3 = user({"name": "age", "type": "int"})  # no default: a v3 reader cannot read v1/v2 data


def avro(text: str) -> Schema:
    return Schema(text, "AVRO")


@pytest.fixture
def registry(conn: Connection, cluster: Settings) -> SchemaRegistryClient:
    """A fresh client per test: the client caches, and these tests want to reach the server."""
    return clients.schema_registry(conn)


@pytest.fixture
def http(cluster: Settings) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.schema_registry_url(), timeout=30) as client:
        yield client


def status_of(call: Callable[[], object]) -> tuple[int, int]:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value.http_status_code, caught.value.error_code


# --- Registering and evolving


def test_register_evolve_and_reject(registry: SchemaRegistryClient, unique: Unique) -> None:
    subject = unique("users-value")
    first = registry.register_schema(subject, avro(V1))
    second = registry.register_schema(subject, avro(V2))
    assert first != second
    assert status_of(lambda: registry.register_schema(subject, avro(V3))) == (409, 40901)
    assert registry.get_versions(subject) == [1, 2]


def test_registering_a_known_schema_adds_no_version(http: httpx.Client, unique: Unique) -> None:
    subject = unique("users-value")
    url = f"/subjects/{subject}/versions"
    first = http.post(url, json={"schema": V1}).json()
    respaced = json.dumps(json.loads(V1), indent=4)
    assert http.post(url, json={"schema": respaced}).json() == first
    assert http.get(url).json() == [1]


def test_lookup_get_by_id_and_latest(registry: SchemaRegistryClient, unique: Unique) -> None:
    subject = unique("users-value")
    first = registry.register_schema(subject, avro(V1))
    second = registry.register_schema(subject, avro(V2))

    found = registry.lookup_schema(subject, avro(V1))
    assert (found.schema_id, found.version, found.subject) == (first, 1, subject)
    assert json.loads(registry.get_schema(second).schema_str) == json.loads(V2)
    latest = registry.get_latest_version(subject)
    assert (latest.schema_id, latest.version) == (second, 2)
    assert status_of(lambda: registry.lookup_schema(subject, avro(V3))) == (404, 40403)


def test_avro_serializer_and_deserializer_round_trip(
    conn: Connection, cluster: Settings, registry: SchemaRegistryClient, unique: Unique
) -> None:
    topic = unique("users")
    context = SerializationContext(topic, MessageField.VALUE)
    value = {"name": "ada", "email": "ada@example.com"}

    data = AvroSerializer(registry, V2)(value, context)
    assert data is not None
    # Confluent wire format: magic byte 0, then the 4-byte id the registry gave the schema.
    registered = registry.get_latest_version(f"{topic}-value")
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == registered.schema_id
    # A fresh client, so the writer's schema really is fetched from the registry by id.
    reader = AvroDeserializer(clients.schema_registry(conn))
    assert reader(data, context) == value


def test_an_old_reader_reads_data_written_with_the_new_schema(
    registry: SchemaRegistryClient, unique: Unique
) -> None:
    topic = unique("users")
    context = SerializationContext(topic, MessageField.VALUE)
    registry.register_schema(f"{topic}-value", avro(V1))

    data = AvroSerializer(registry, V2)({"name": "ada", "email": "a@x"}, context)
    old_reader = AvroDeserializer(registry, schema_str=V1)
    assert old_reader(data, context) == {"name": "ada"}


def test_compatibility_none_lets_anything_in(
    registry: SchemaRegistryClient, unique: Unique
) -> None:
    subject = unique("users-value")
    registry.register_schema(subject, avro(V1))
    assert registry.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert registry.get_compatibility(subject) == "NONE"
    registry.register_schema(subject, avro(V3))
    assert registry.get_versions(subject) == [1, 2]


def test_test_compatibility(registry: SchemaRegistryClient, unique: Unique) -> None:
    subject = unique("users-value")
    registry.register_schema(subject, avro(V1))
    assert registry.test_compatibility(subject, avro(V2)) is True
    assert registry.test_compatibility(subject, avro(V3)) is False
    assert registry.test_compatibility(subject, avro(V3), version=1) is False
    assert registry.test_compatibility_all_versions(subject, avro(V2)) is True


def test_verbose_compatibility_says_why(http: httpx.Client, unique: Unique) -> None:
    subject = unique("users-value")
    http.post(f"/subjects/{subject}/versions", json={"schema": V1})
    answer = http.post(
        f"/compatibility/subjects/{subject}/versions/latest?verbose=True", json={"schema": V3}
    ).json()
    assert answer["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in answer["messages"])


def test_the_same_schema_gets_the_same_id_in_every_subject(
    registry: SchemaRegistryClient, unique: Unique
) -> None:
    one, two = unique("a-value"), unique("b-value")
    schema = avro(user({"name": unique("f").replace("-", "_"), "type": "string", "default": ""}))
    schema_id = registry.register_schema(one, schema)
    assert registry.register_schema(two, schema) == schema_id
    assert sorted(registry.get_subjects_by_schema_id(schema_id)) == sorted([one, two])


# --- Errors, exactly as Confluent words them


def test_unknown_subject_is_404_40401(registry: SchemaRegistryClient, unique: Unique) -> None:
    subject = unique("missing")
    assert status_of(lambda: registry.get_latest_version(subject)) == (404, 40401)
    assert status_of(lambda: registry.get_versions(subject)) == (404, 40401)


def test_invalid_schema_is_422_42201(registry: SchemaRegistryClient, unique: Unique) -> None:
    subject = unique("users-value")
    bad = '{"type": "record", "name": "NoFields"}'
    assert status_of(lambda: registry.register_schema(subject, avro(bad))) == (422, 42201)
    proto = Schema('syntax = "proto3";', "PROTOBUF")
    assert status_of(lambda: registry.register_schema(subject, proto)) == (422, 42201)


def test_error_bodies_and_odd_requests(http: httpx.Client, unique: Unique) -> None:
    subject = unique("users-value")
    missing = http.get(f"/subjects/{subject}/versions/1")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    assert missing.json() == {"error_code": 40401, "message": f"Subject '{subject}' not found."}

    assert http.get("/no/such/path").json()["error_code"] == 404
    assert http.get(f"/subjects/{subject}/versions/zero").json()["error_code"] == 42202
    assert http.get("/schemas/ids/987654").json() == {
        "error_code": 40403,
        "message": "Schema 987654 not found",
    }
    malformed = http.post(
        f"/subjects/{subject}/versions",
        content=b"{not json",
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    assert (malformed.status_code, malformed.json()["error_code"]) == (400, 400)
    assert http.put("/config", json={"compatibility": "SIDEWAYS"}).json()["error_code"] == 42203


def test_global_endpoints(http: httpx.Client) -> None:
    assert http.get("/").json() == {}
    assert http.get("/schemas/types").json() == ["AVRO"]
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    assert http.get("/config").json()["compatibilityLevel"] in {"BACKWARD", "NONE", "FULL"}


def test_subject_config_needs_default_to_global(http: httpx.Client, unique: Unique) -> None:
    subject = unique("users-value")
    assert http.get(f"/config/{subject}").json()["error_code"] == 40408
    fallback = http.get(f"/config/{subject}?defaultToGlobal=true").json()
    assert fallback == http.get("/config").json()
    http.put(f"/config/{subject}", json={"compatibility": "full"})
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "FULL"}
    assert http.delete(f"/config/{subject}").json() == {"compatibilityLevel": "FULL"}
    assert http.get(f"/config/{subject}").json()["error_code"] == 40408


def test_subjects_with_a_slash_and_raw_schema_endpoints(http: httpx.Client, unique: Unique) -> None:
    subject = unique("team/users-value")
    path = quote(subject, safe="")
    schema_id = http.post(f"/subjects/{path}/versions", json={"schema": V1}).json()["id"]
    assert subject in http.get("/subjects").json()
    assert http.get(f"/subjects/{path}/versions/1/schema").json() == json.loads(V1)
    assert http.get(f"/schemas/ids/{schema_id}/schema").json() == json.loads(V1)
    assert {"subject": subject, "version": 1} in http.get(
        f"/schemas/ids/{schema_id}/versions"
    ).json()


def test_soft_then_hard_delete(
    registry: SchemaRegistryClient, http: httpx.Client, unique: Unique
) -> None:
    subject = unique("users-value")
    first = registry.register_schema(subject, avro(V1))
    registry.register_schema(subject, avro(V2))

    assert registry.delete_version(subject, 2) == 2
    assert registry.get_versions(subject) == [1]
    assert http.get(f"/subjects/{subject}/versions/2?deleted=True").json()["version"] == 2
    assert status_of(lambda: registry.delete_subject(subject, permanent=True)) == (404, 40405)

    assert registry.delete_subject(subject) == [1]
    assert subject not in registry.get_subjects()
    assert subject in http.get("/subjects?deleted=true").json()
    assert status_of(lambda: registry.delete_subject(subject)) == (404, 40404)
    assert registry.delete_subject(subject, permanent=True) == [1, 2]
    assert subject not in http.get("/subjects?deleted=true").json()
    # The id still resolves, so data written with it can still be read.
    assert http.get(f"/schemas/ids/{first}").status_code == 200


# --- A second registry process on the same cluster


@pytest.fixture(scope="module")
def second_registry(conn: Connection, cluster: Settings) -> Iterator[str]:
    """Another `python -m kafkalab.cluster.registry` on a free port; must stop with status 0."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kafkalab.cluster.registry",
            "--bootstrap",
            conn.bootstrap_servers,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr


def _run_registry(port: int, bootstrap: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kafkalab.cluster.registry", "--bootstrap", bootstrap]
    return subprocess.run(
        [*command, "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_a_taken_port_is_exit_1_with_one_clear_line(conn: Connection, cluster: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _run_registry(taken.getsockname()[1], conn.bootstrap_servers)
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_kafka_is_exit_1_with_one_clear_line() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    result = _run_registry(free_port(), nobody, KAFKALAB_START_TIMEOUT="2")
    assert result.returncode == 1
    assert f"cannot use _schemas on {nobody}" in result.stderr
    assert "Traceback" not in result.stderr


def _wait_until_answering(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"registry exited: {process.communicate()[1]}"
        try:
            if httpx.get(f"{url}/subjects", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"second registry did not answer on {url}")


def test_a_second_registry_sees_what_the_first_registered(
    conn: Connection,
    cluster: Settings,
    registry: SchemaRegistryClient,
    second_registry: str,
    unique: Unique,
) -> None:
    subject = unique("users-value")
    schema_id = registry.register_schema(subject, avro(V1))
    registry.register_schema(subject, avro(V2))

    # It replayed the whole log: every subject and soft delete the first one knows, it knows.
    for query in ("", "?deleted=true"):
        first = httpx.get(f"{cluster.schema_registry_url()}/subjects{query}").json()
        assert httpx.get(f"{second_registry}/subjects{query}").json() == first

    other = SchemaRegistryClient({"url": second_registry})
    assert json.loads(other.get_schema(schema_id).schema_str) == json.loads(V1)
    assert other.get_latest_version(subject).version == 2
    # And the other way round: it adds a version the first registry then sees.
    third = user({"name": "city", "type": ["null", "string"], "default": None})
    other.register_schema(subject, avro(third))
    # A read that finds the subject answers from memory (only a miss catches up first, as
    # SchemaStore.read says), so the new version shows once the first registry's reader has
    # applied it: a moment, bounded here.
    first_registry = clients.schema_registry(conn)
    deadline = time.monotonic() + 15
    while first_registry.get_versions(subject) != [1, 2, 3] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first_registry.get_versions(subject) == [1, 2, 3]


def test_concurrent_registrations_through_both_registries_never_collide(
    cluster: Settings, second_registry: str, unique: Unique
) -> None:
    subject = unique("race-value")
    urls = [cluster.schema_registry_url(), second_registry]
    # Each schema adds its own optional field: compatible with the others in any order.
    schemas = [
        user({"name": f"f{i}", "type": ["null", "long"], "default": None}) for i in range(12)
    ]
    ids: dict[int, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(schemas))

    def register(i: int) -> None:
        client = SchemaRegistryClient({"url": urls[i % 2]})
        try:
            start.wait()
            ids[i] = client.register_schema(subject, avro(schemas[i]))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(schemas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(set(ids.values())) == len(schemas)
    for url in urls:
        client = SchemaRegistryClient({"url": url})
        assert client.get_versions(subject) == list(range(1, len(schemas) + 1))
        by_version = {v: client.get_version(subject, v) for v in range(1, len(schemas) + 1)}
        assert sorted(r.schema_id for r in by_version.values()) == sorted(ids.values())
        for i, schema_id in ids.items():
            assert json.loads(client.get_schema(schema_id).schema_str) == json.loads(schemas[i])
