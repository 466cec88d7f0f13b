"""The registry's state, kept as a log in the compacted Kafka topic `_schemas`.

Every change is a record in `_schemas`; every registry process reads the topic from the start
and applies the records in offset order to the same in-memory `RegistryState`. There is no
leader: a writer catches up with the log, computes the next id and version from what it has
read, writes its record, reads it back, and checks that it won. When two registries race, the
first record by offset wins on every replica alike, and the loser simply tries again.

Record format (the same keys and values Confluent's registry uses, minus its `magic` field):

    key   {"keytype": "SCHEMA", "subject": s, "version": v}
    value {"subject": s, "version": v, "id": n, "schema": "...", "deleted": false}
          (+ "schemaType" when not AVRO; a null value is a hard delete of that version)
    key   {"keytype": "CONFIG", "subject": s or null}
    value {"compatibilityLevel": "BACKWARD"}  (a null value removes the setting)
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic, OffsetSpec

from kafkalab import clients
from kafkalab.cluster.registry.compatibility import (
    AVRO,
    DEFAULT_LEVEL,
    CompatibilityLevel,
    InvalidLevel,
    InvalidSchema,
    PastVersion,
    check,
    check_schema_type,
    normalize,
    parse,
    parse_level,
)
from kafkalab.cluster.registry.errors import (
    ApiError,
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidSchemaError,
    InvalidVersion,
    SchemaNotFound,
    StoreError,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from kafkalab.connection import Connection

log = logging.getLogger(__name__)

TOPIC = "_schemas"
MAX_VERSION = 2**31 - 1
WRITE_ATTEMPTS = 10

T = TypeVar("T")


def parse_version(text: str) -> int | None:
    """A version number from a URL, or None for the latest (`latest` or `-1`)."""
    if text in ("latest", "-1"):
        return None
    try:
        number = int(text)
    except ValueError:
        raise InvalidVersion(text) from None
    if not 1 <= number <= MAX_VERSION:
        raise InvalidVersion(text)
    return number


def valid_level(name: object) -> CompatibilityLevel:
    """The compatibility level called `name`, or the Confluent 422/42203 error."""
    try:
        return parse_level(name)
    except InvalidLevel as exc:
        raise InvalidCompatibilityLevel(str(exc)) from None


def valid_schema(schema: object, schema_type: object = None) -> tuple[str, str]:
    """(schema text, schema type) after checking both, or the Confluent 422/42201 error."""
    try:
        if not isinstance(schema, str):
            raise InvalidSchema("Invalid schema: 'schema' must be a string holding the schema")
        kind = check_schema_type(schema_type if isinstance(schema_type, str) else None)
        parse(schema)
        normalize(schema)
    except InvalidSchema as exc:
        raise InvalidSchemaError(str(exc)) from None
    return schema, kind


# --- Records: what one message in `_schemas` means.


@dataclass(frozen=True)
class SchemaRecord:
    """One version of a subject. `deleted` marks a soft delete: hidden, but its id still works."""

    subject: str
    version: int
    id: int
    schema: str
    schema_type: str = AVRO
    deleted: bool = False

    def response(self) -> dict[str, Any]:
        """The body Confluent returns for a subject version."""
        body: dict[str, Any] = {
            "subject": self.subject,
            "id": self.id,
            "version": self.version,
            "schema": self.schema,
        }
        if self.schema_type != AVRO:
            body["schemaType"] = self.schema_type
        return body


@dataclass(frozen=True)
class ConfigRecord:
    """A compatibility level for one subject, or globally when `subject` is None."""

    subject: str | None
    level: CompatibilityLevel | None  # None removes the setting


@dataclass(frozen=True)
class Tombstone:
    """A hard delete of one subject version."""

    subject: str
    version: int


Record = SchemaRecord | ConfigRecord | Tombstone


def _json(value: dict[str, Any]) -> bytes:
    # Keys must be byte-identical for compaction to treat them as one: fixed order, no spaces.
    return json.dumps(value, separators=(",", ":")).encode()


def encode(record: Record) -> tuple[bytes, bytes | None]:
    """The (key, value) of `record` in `_schemas`."""
    if isinstance(record, ConfigRecord):
        key = _json({"keytype": "CONFIG", "subject": record.subject})
        if record.level is None:
            return key, None
        return key, _json({"compatibilityLevel": record.level.value})
    key = _json({"keytype": "SCHEMA", "subject": record.subject, "version": record.version})
    if isinstance(record, Tombstone):
        return key, None
    value: dict[str, Any] = {
        "subject": record.subject,
        "version": record.version,
        "id": record.id,
        "schema": record.schema,
        "deleted": record.deleted,
    }
    if record.schema_type != AVRO:
        value["schemaType"] = record.schema_type
    return key, _json(value)


def decode(key: bytes | None, value: bytes | None) -> Record | None:
    """The record a message holds; None for keys this registry does not use (e.g. NOOP).

    Raises ValueError, KeyError or TypeError for a malformed message; the reader skips it.
    """
    if key is None:
        return None
    k = json.loads(key)
    keytype = k.get("keytype")
    if keytype == "CONFIG":
        if value is None:
            return ConfigRecord(k.get("subject"), None)
        return ConfigRecord(k.get("subject"), parse_level(json.loads(value)["compatibilityLevel"]))
    if keytype != "SCHEMA":
        return None
    subject, version = str(k["subject"]), int(k["version"])
    if value is None:
        return Tombstone(subject, version)
    v = json.loads(value)
    schema = str(v["schema"])
    normalize(schema)  # raises InvalidSchema (a ValueError) for text that is not JSON
    return SchemaRecord(
        subject=subject,
        version=version,
        id=int(v["id"]),
        schema=schema,
        schema_type=str(v.get("schemaType") or AVRO),
        deleted=bool(v.get("deleted", False)),
    )


# --- State: what the log says, built by applying records in offset order.


@dataclass(frozen=True)
class StoredSchema:
    """A schema as its id names it: the text first registered, and its normalised identity."""

    id: int
    schema: str
    schema_type: str
    identity: str


@dataclass
class RegistryState:
    """Everything the registry knows. Changed only by `apply`; every replica gets the same result.

    Ids are never forgotten while the log holds them, even after a hard delete, so data written
    with an id stays readable and an id is never given to a different schema.
    """

    subjects: dict[str, dict[int, SchemaRecord]] = field(default_factory=dict)
    schemas: dict[int, StoredSchema] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # identity -> first id given to it
    configs: dict[str | None, CompatibilityLevel] = field(default_factory=dict)

    def apply(self, record: Record) -> bool:
        """Apply one record; False when it loses to an earlier record and is ignored.

        A SCHEMA record loses when its (subject, version) already holds another id, or when its
        id already names another schema: whichever was written first stays.
        """
        if isinstance(record, ConfigRecord):
            if record.level is None:
                self.configs.pop(record.subject, None)
            else:
                self.configs[record.subject] = record.level
            return True
        if isinstance(record, Tombstone):
            versions = self.subjects.get(record.subject, {})
            versions.pop(record.version, None)
            if not versions:
                self.subjects.pop(record.subject, None)
            return True
        identity = normalize(record.schema)
        known = self.schemas.get(record.id)
        if known is not None and known.identity != identity:
            return False
        current = self.subjects.get(record.subject, {}).get(record.version)
        if current is not None and current.id != record.id:
            return False
        if known is None:
            self.schemas[record.id] = StoredSchema(
                record.id, record.schema, record.schema_type, identity
            )
            self.ids.setdefault(identity, record.id)
        self.subjects.setdefault(record.subject, {})[record.version] = record
        return True

    # Queries. They raise the Confluent error for whatever is missing.

    def versions(self, subject: str, deleted: bool = False) -> list[SchemaRecord]:
        """The subject's versions, oldest first; soft-deleted ones only when `deleted`."""
        found = self.subjects.get(subject, {})
        return [found[n] for n in sorted(found) if deleted or not found[n].deleted]

    def subject_names(self, deleted: bool = False, deleted_only: bool = False) -> list[str]:
        """Subjects with a live version (plus, with `deleted`, those with only soft-deleted ones)."""
        names = []
        for name, found in self.subjects.items():
            live = any(not record.deleted for record in found.values())
            if (deleted_only and not live) or (not deleted_only and (live or deleted)):
                names.append(name)
        return sorted(names)

    def lookup(self, subject: str, version: int | None, deleted: bool = False) -> SchemaRecord:
        """One version (None: the latest), or SubjectNotFound / VersionNotFound."""
        versions = self.versions(subject, deleted)
        if not versions:
            raise SubjectNotFound(subject)
        if version is None:
            return versions[-1]
        for record in versions:
            if record.version == version:
                return record
        raise VersionNotFound(version)

    def find(self, subject: str, schema: str, deleted: bool = False) -> SchemaRecord | None:
        """The newest version of `subject` holding the same schema as `schema`, if any."""
        identity = normalize(schema)
        for record in reversed(self.versions(subject, deleted)):
            if self.schemas[record.id].identity == identity:
                return record
        return None

    def schema(self, schema_id: int) -> StoredSchema:
        """The schema an id names (soft- and hard-deleted versions included), or SchemaNotFound."""
        try:
            return self.schemas[schema_id]
        except KeyError:
            raise SchemaNotFound(schema_id) from None

    def usages(self, schema_id: int, deleted: bool = False) -> list[SchemaRecord]:
        """Every subject version registered with `schema_id`, by subject then version."""
        self.schema(schema_id)
        return [
            record
            for name in sorted(self.subjects)
            for record in self.versions(name, deleted)
            if record.id == schema_id
        ]

    def level(self, subject: str | None = None) -> CompatibilityLevel:
        """The level that applies: the subject's own, else the global one, else BACKWARD."""
        if subject is not None and subject in self.configs:
            return self.configs[subject]
        return self.configs.get(None, DEFAULT_LEVEL)

    def next_id(self, schema: str) -> int:
        """The id `schema` has anywhere in the registry, or one past the highest id so far."""
        return self.ids.get(normalize(schema)) or max(self.schemas, default=0) + 1

    def next_version(self, subject: str) -> int:
        """One past the highest version, soft-deleted ones included (Confluent never reuses them)."""
        return max(self.subjects.get(subject, {}), default=0) + 1


# --- The store: RegistryState kept in step with `_schemas`.


class SchemaStore:
    """Reads and writes registry state through Kafka. Thread-safe; one per registry process.

    A background thread applies `_schemas` to the state. Reads answer from memory. Writes are
    serialised inside the process by a lock and made safe across processes by the
    catch-up / write / read-back / check-won loop described in the module docstring.
    """

    def __init__(
        self,
        conn: Connection,
        replication_factor: int = 1,
        topic: str = TOPIC,
        timeout: float = 10.0,
    ) -> None:
        self._conn = conn
        self._replication_factor = replication_factor
        self._topic = topic
        self._timeout = timeout
        self._partition = TopicPartition(topic, 0)
        self._state = RegistryState()
        self._position = 0  # next offset to apply
        self._changed = threading.Condition()  # guards _state and _position
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._producer = clients.producer(
            conn, **{"linger.ms": 0, "message.timeout.ms": int(timeout * 1000)}
        )
        self._admin = clients.admin(conn)
        self._consumer = clients.consumer(
            conn,
            f"kafkalab-registry-{uuid.uuid4().hex}",  # never joined or committed: we assign
            **{"enable.auto.commit": False, "enable.partition.eof": True, "fetch.wait.max.ms": 100},
        )

    # Life cycle

    def start(self, timeout: float) -> None:
        """Create `_schemas` if needed and return once every record in it has been applied."""
        deadline = time.monotonic() + timeout
        self._ensure_topic(deadline)
        # Offset 0, not OFFSET_BEGINNING: the latter costs a ListOffsets round and ~0.5 s.
        self._consumer.assign([TopicPartition(self._topic, 0, 0)])
        self._reader = threading.Thread(target=self._read_log, name="schemas-reader", daemon=True)
        self._reader.start()
        while True:
            try:
                self._catch_up(max(0.1, deadline - time.monotonic()))
                return
            except StoreError:
                # Right after creation the partition may have no leader yet; ask again.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        """Stop reading and flush what is still queued. The consumer is closed by its thread."""
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
        else:
            self._consumer.close()
        self._producer.flush(1)

    def _ensure_topic(self, deadline: float) -> None:
        config = {
            "cleanup.policy": "compact",
            "min.insync.replicas": "2" if self._replication_factor >= 3 else "1",
        }
        topic = NewTopic(self._topic, 1, self._replication_factor, config=config)
        timeout = max(1.0, deadline - time.monotonic())
        future = self._admin.create_topics([topic], request_timeout=timeout)[self._topic]
        try:
            future.result(timeout=timeout)
            log.info(
                "created topic %s (replication factor %d)", self._topic, topic.replication_factor
            )
        except concurrent.futures.TimeoutError:
            raise StoreError("Error in the backend data store: Kafka did not answer") from None
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StoreError(f"Error in the backend data store: {error.str()}") from None

    def _read_log(self) -> None:
        """The one thread that applies `_schemas`, in offset order, for as long as we run."""
        try:
            while not self._stopping.is_set():
                message = self._consumer.poll(0.1)
                if message is None:
                    continue
                error = message.error()
                if error is None:
                    offset = message.offset()
                    try:
                        record = decode(message.key(), message.value())
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("skipping malformed record at offset %d: %s", offset, exc)
                        record = None
                    self._advance(offset + 1, record, offset)
                elif error.code() == KafkaError._PARTITION_EOF:
                    self._advance(message.offset())
                else:
                    log.warning("reading %s: %s", self._topic, error.str())
        finally:
            self._consumer.close()

    def _advance(self, position: int, record: Record | None = None, offset: int = -1) -> None:
        with self._changed:
            if record is not None and not self._state.apply(record):
                log.debug("record at offset %d lost to an earlier one; ignored", offset)
            self._position = max(self._position, position)
            self._changed.notify_all()

    def _catch_up(self, timeout: float | None = None) -> None:
        """Wait until everything written to `_schemas` before this call has been applied."""
        timeout = timeout or self._timeout
        self._wait_for(self._end_offset(timeout), timeout)

    def _end_offset(self, timeout: float) -> int:
        """The offset the next record in `_schemas` will get (its high watermark).

        Asked through the admin client: on the consumer's connection the query would queue
        behind its parked fetch and take fetch.wait.max.ms every time. After a broker restart
        librdkafka's admin client can keep failing on stale partition metadata, so a failed
        query is retried once on a fresh admin client.
        """
        request = {self._partition: OffsetSpec.latest()}
        for fresh in (False, True):
            if fresh:
                self._admin = clients.admin(self._conn)
            try:
                future = self._admin.list_offsets(request, request_timeout=timeout)
                return int(future[self._partition].result(timeout=timeout).offset)
            except concurrent.futures.TimeoutError:
                raise StoreError("Error in the backend data store: Kafka did not answer") from None
            except KafkaException as exc:
                error = exc.args[0]
        raise StoreError(f"Error in the backend data store: {error.str()}")

    def _wait_for(self, position: int, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._position >= position, timeout):
                raise StoreError(
                    f"Error in the backend data store: timed out reading {self._topic}"
                )

    def _write(self, records: Sequence[Record]) -> None:
        """Produce `records` in order and return once this process has applied them all."""
        outcomes: list[tuple[KafkaError | None, int]] = []
        for record in records:
            key, value = encode(record)
            self._producer.produce(
                self._topic,
                key=key,
                value=value,
                partition=0,
                on_delivery=lambda err, msg: outcomes.append((err, msg.offset())),
            )
        self._producer.flush(self._timeout)
        failures = [err for err, _ in outcomes if err is not None]
        if failures or len(outcomes) < len(records):
            reason = failures[0].str() if failures else "timed out"
            raise StoreError(f"Error in the backend data store: writing failed ({reason})")
        self._wait_for(max(offset for _, offset in outcomes) + 1, self._timeout)

    # Reads

    def read(self, query: Callable[[RegistryState], T]) -> T:
        """Run `query` on the state. A miss catches up once and asks again, so a schema just
        registered through another registry process is found here too."""
        try:
            with self._changed:
                return query(self._state)
        except ApiError as exc:
            if exc.status != 404:
                raise
        try:
            self._catch_up()
        except StoreError as exc:
            log.warning("answering from memory: %s", exc)
        with self._changed:
            return query(self._state)

    def compatibility(
        self, subject: str, schema: str, version: int | None, against_all: bool
    ) -> list[str]:
        """Why `schema` could not be registered under `subject` ([] when it could).

        `against_all` checks what registration would check (the latest version, or all of them
        for a transitive level); otherwise only the given version (None: latest) is compared.
        """

        def history(state: RegistryState) -> tuple[CompatibilityLevel, list[PastVersion]]:
            found = state.versions(subject) if against_all else [state.lookup(subject, version)]
            return state.level(subject), [PastVersion(r.version, r.schema) for r in found]

        level, past = self.read(history)
        return check(level, schema, past)

    # Writes

    def register(self, subject: str, schema: str, schema_type: str = AVRO) -> int:
        """The id of `schema` in `subject`: its existing id, or a new version if compatible.

        Idempotent: registering a schema the subject already holds writes nothing.
        """
        with self._write_lock:
            for _ in range(WRITE_ATTEMPTS):
                self._catch_up()
                with self._changed:
                    state = self._state
                    existing = state.find(subject, schema)
                    if existing is not None:
                        return existing.id
                    level = state.level(subject)
                    past = [PastVersion(r.version, r.schema) for r in state.versions(subject)]
                    schema_id = state.next_id(schema)
                    stored = state.schemas.get(schema_id)
                    record = SchemaRecord(
                        subject,
                        state.next_version(subject),
                        schema_id,
                        stored.schema if stored else schema,
                        schema_type,
                    )
                problems = check(level, schema, past)
                if problems:
                    raise IncompatibleSchema(subject, problems)
                self._write([record])
                with self._changed:
                    applied = self._state.subjects.get(subject, {}).get(record.version)
                    # Won only if the slot holds our id *and* that id names our schema: a rival
                    # may have written the same id and version for another schema first.
                    won = applied is not None and applied.id == schema_id
                    if won and self._state.schemas[schema_id].identity == normalize(schema):
                        log.info(
                            "registered %s version %d id %d", subject, record.version, schema_id
                        )
                        return schema_id
                    if applied is not None:
                        # Re-assert the winner so that compaction, which keeps the last record
                        # per key, cannot leave our losing record in its place.
                        key, value = encode(applied)
                        self._producer.produce(self._topic, key=key, value=value, partition=0)
                log.info(
                    "another registry took %s version %d first; retrying", subject, record.version
                )
        raise StoreError(
            f"Error in the backend data store: could not register under '{subject}' "
            f"after {WRITE_ATTEMPTS} attempts"
        )

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        """Soft-delete every live version, or (permanent) erase a soft-deleted subject."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                every = self._state.versions(subject, deleted=True)
                has_config = subject in self._state.configs
            if not every:
                raise SubjectNotFound(subject)
            live = [record for record in every if not record.deleted]
            records: list[Record]
            if permanent:
                if live:
                    raise SubjectNotSoftDeleted(subject)
                records = [Tombstone(subject, r.version) for r in every]
                if has_config:
                    records.append(ConfigRecord(subject, None))
                gone = every
            else:
                if not live:
                    raise SubjectSoftDeleted(subject)
                records = [replace(record, deleted=True) for record in live]
                gone = live
            self._write(records)
            return [record.version for record in gone]

    def delete_version(self, subject: str, version: int | None, permanent: bool) -> int:
        """Soft-delete one version, or (permanent) erase one that is already soft-deleted."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                # "latest" means the latest live version, unless erasing soft-deleted ones.
                record = self._state.lookup(
                    subject, version, deleted=permanent or version is not None
                )
            if permanent:
                if not record.deleted:
                    raise VersionNotSoftDeleted(subject, record.version)
                self._write([Tombstone(subject, record.version)])
            else:
                if record.deleted:
                    raise VersionSoftDeleted(subject, record.version)
                self._write([replace(record, deleted=True)])
            return record.version

    def set_level(self, subject: str | None, level: CompatibilityLevel) -> None:
        """Set the compatibility level of `subject` (None: the global default)."""
        with self._write_lock:
            self._write([ConfigRecord(subject, level)])

    def delete_level(self, subject: str | None) -> CompatibilityLevel:
        """Remove a level setting and return the level it had; the global one falls back to
        BACKWARD, a subject's to the global one."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                if subject is not None and subject not in self._state.configs:
                    raise SubjectNotFound(subject)
                previous = self._state.level(subject)
            self._write([ConfigRecord(subject, None)])
            return previous
