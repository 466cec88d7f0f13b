"""The registry's state, kept as a log in the compacted Kafka topic `_schemas`.

Every change is a record in `_schemas` (see `records`); every registry process reads the topic
from the start and applies the records in offset order to the same in-memory `RegistryState`
(see `state`). There is no leader: a writer catches up with the log, computes the next id and
version from what it has read, writes its record, reads it back, and checks that it won. When
two registries race, the first record by offset wins on every replica alike, and the loser
simply tries again.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic, OffsetSpec

from kafkalab import clients
from kafkalab.cluster.registry.compatibility import (
    AVRO,
    CompatibilityLevel,
    InvalidLevel,
    InvalidSchema,
    PastVersion,
    Prepared,
    check,
    check_schema_type,
    parse_level,
    prepare,
)
from kafkalab.cluster.registry.errors import (
    ApiError,
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidSchemaError,
    InvalidVersion,
    OperationNotPermitted,
    StoreError,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
    read_only,
)
from kafkalab.cluster.registry.records import (
    ConfigRecord,
    Mode,
    ModeRecord,
    Record,
    SchemaRecord,
    Tombstone,
    decode,
    encode,
)
from kafkalab.cluster.registry.state import RegistryState
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


def valid_schema(
    schema: object, schema_type: object = None, normalize: bool = False, new: bool = False
) -> Prepared:
    """The schema as it would be stored after checking it and its type, or Confluent's 42201."""
    try:
        check_schema_type(schema_type if isinstance(schema_type, str) else None)
        if not isinstance(schema, str):
            raise InvalidSchema("Invalid schema: 'schema' must be a string holding the schema")
        return prepare(schema, normalize=normalize, new=new)
    except InvalidSchema as exc:
        raise InvalidSchemaError(str(exc)) from None


@dataclass(frozen=True)
class Registration:
    """A registration request: the schema text as sent, and the id and version an import brings
    (None otherwise). `normalize` is the request's flag; the subject's config may add it."""

    schema: str
    schema_type: str = AVRO
    normalize: bool = False
    id: int | None = None
    version: int | None = None


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
        librdkafka's admin client can keep failing on stale partition metadata, and after a
        leader election it can keep asking the dead leader until it times out (seen: every
        query for minutes after a SIGKILLed broker was fenced), so a failed or timed-out query
        is retried once on a fresh admin client, which reads the metadata anew.
        """
        request = {self._partition: OffsetSpec.latest()}
        reason = "Kafka did not answer"
        for fresh in (False, True):
            if fresh:
                self._admin = clients.admin(self._conn)
            try:
                future = self._admin.list_offsets(request, request_timeout=timeout)
                return int(future[self._partition].result(timeout=timeout).offset)
            except concurrent.futures.TimeoutError:
                reason = "Kafka did not answer"
            except KafkaException as exc:
                reason = exc.args[0].str()
        raise StoreError(f"Error in the backend data store: {reason}")

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
        self,
        subject: str,
        request: Registration,
        version: int | None,
        against_all: bool,
    ) -> list[str]:
        """Why the schema could not be registered under `subject` ([] when it could).

        `against_all` checks what registration would check (the latest version, or all of them
        for a transitive level); otherwise only the given version (None: latest) is compared.
        A version that does not exist is 40402 even when the subject does not exist (as in
        Confluent); "latest" of a subject without live versions is compatible. An invalid
        schema raises InvalidSchema, which the caller answers as 42201 or, verbose, as a message.
        """

        def history(state: RegistryState) -> tuple[CompatibilityLevel, bool, list[PastVersion]]:
            if against_all:
                past = state.history(subject)
            else:
                found = state.get(subject, version)
                if found is None and version is not None:
                    raise VersionNotFound(version)
                past = []
                if found is not None:
                    parsed = state.schemas[found.id].parsed
                    past = [PastVersion(found.version, found.schema, parsed)]
            return state.level(subject), request.normalize or state.normalize(subject), past

        level, normalize, past = self.read(history)
        check_schema_type(request.schema_type)
        prepared = prepare(request.schema, normalize=normalize, new=True)
        return check(level, prepared.text, past)

    # Writes

    def register(self, subject: str, request: Registration) -> SchemaRecord:
        """The version of `subject` holding the schema: the existing one, or a new version if
        compatible (or, in IMPORT mode, the one the request names).

        Confluent's order: a schema the subject already holds is answered first, whatever the
        mode (so a client re-registering in READONLY mode still gets its id); then the mode;
        then validation, which checks field defaults of new schemas; then compatibility.
        """
        with self._write_lock:
            for _ in range(WRITE_ATTEMPTS):
                self._catch_up()
                with self._changed:
                    outcome = self._plan_registration(self._state, subject, request)
                if isinstance(outcome, SchemaRecord):
                    return outcome
                records, record = outcome
                self._write(records)
                with self._changed:
                    applied = self._state.subjects.get(subject, {}).get(record.version)
                    # Won only if the slot holds our id *and* that id names our schema: a rival
                    # may have written the same id and version for another schema first.
                    won = applied is not None and applied.id == record.id
                    stored = self._state.schemas.get(record.id)
                    if won and applied and stored is not None and stored.schema == record.schema:
                        log.info(
                            "registered %s version %d id %d", subject, record.version, record.id
                        )
                        return applied
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

    @staticmethod
    def _plan_registration(
        state: RegistryState, subject: str, request: Registration
    ) -> SchemaRecord | tuple[list[Record], SchemaRecord]:
        """The existing version to answer with, or the records to write (the new version last)."""
        mode = state.mode(subject)
        importing = mode is Mode.IMPORT
        normalize = (request.normalize or state.normalize(subject)) and not importing
        wanted = valid_schema(request.schema, request.schema_type, normalize=normalize)
        existing = state.find(subject, wanted)
        if (
            existing is not None
            and request.id in (None, existing.id)
            and request.version in (None, existing.version)
        ):
            return existing
        if mode is Mode.READONLY:
            raise read_only(subject)
        if request.id is not None and not importing:
            raise OperationNotPermitted(f"Subject {subject} in context  is not in import mode")
        if request.id is None and mode is not Mode.READWRITE:
            raise OperationNotPermitted(f"Subject {subject} in context  is not in read-write mode")
        prepared = valid_schema(
            request.schema, request.schema_type, normalize=normalize, new=request.id is None
        )
        version = state.next_version(subject)
        if request.version is not None and request.version != version:
            if not importing:
                raise InvalidSchemaError("Version is not one more than previous version")
            version = request.version
        if importing:
            schema_id = request.id if request.id is not None else state.next_id(prepared.text)
            known = state.schemas.get(schema_id)
            taken = state.subjects.get(subject, {}).get(version)
            if (known is not None and known.identity != prepared.text) or (
                taken is not None and taken.id != schema_id
            ):
                raise OperationNotPermitted(
                    f"Overwrite new schema with id {schema_id} in context  is not permitted."
                )
        else:
            problems = check(state.level(subject), prepared.text, state.history(subject))
            if problems:
                raise IncompatibleSchema(subject, problems)
            schema_id = state.next_id(prepared.text)
        stored = state.schemas.get(schema_id)
        text = stored.schema if stored is not None else prepared.text
        record = SchemaRecord(subject, version, schema_id, text, request.schema_type)
        # Like Confluent, re-registering a soft-deleted schema erases its older deleted version.
        records: list[Record] = [
            Tombstone(subject, r.version)
            for r in state.versions(subject, deleted=True)
            if r.deleted and r.id == schema_id and r.version < version
        ]
        return [*records, record], record

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        """Soft-delete every live version, or (permanent) erase a soft-deleted subject."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                if self._state.mode(subject) is Mode.READONLY:
                    raise read_only(subject)
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
                if record.deleted and not permanent:
                    raise VersionSoftDeleted(subject, record.version)
                if self._state.mode(subject) is Mode.READONLY:
                    raise read_only(subject)
            if permanent:
                if not record.deleted:
                    raise VersionNotSoftDeleted(subject, record.version)
                self._write([Tombstone(subject, record.version)])
            else:
                self._write([replace(record, deleted=True)])
            return record.version

    def set_config(
        self, subject: str | None, level: CompatibilityLevel | None, normalize: bool | None
    ) -> ConfigRecord:
        """Merge the given settings into those of `subject` (None: global); returns the result."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                if self._state.mode(subject) is Mode.READONLY:
                    raise read_only(subject)
                old = self._state.configs.get(subject) or ConfigRecord(subject, None)
            merged = ConfigRecord(
                subject,
                level if level is not None else old.level,
                normalize if normalize is not None else old.normalize,
            )
            self._write([merged])
            return merged

    def delete_config(self, subject: str | None) -> ConfigRecord:
        """Remove the settings of `subject` (None: global) and return what they were."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                if self._state.mode(subject) is Mode.READONLY:
                    raise read_only(subject)
                old = self._state.configs.get(subject)
            if old is None and subject is not None:
                raise SubjectNotFound(subject)
            self._write([ConfigRecord(subject, None)])
            return old or ConfigRecord(None, None)

    def set_mode(self, subject: str | None, mode: Mode, force: bool) -> None:
        """Set the mode of `subject` (None: global). Switching to IMPORT needs the scope to be
        empty (unless `force`), and erases what soft-deleted versions remain, as Confluent does."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                state = self._state
                records: list[Record] = []
                if mode is Mode.IMPORT and state.mode(subject) is not Mode.IMPORT and not force:
                    scope = [subject] if subject is not None else list(state.subjects)
                    if any(state.versions(name) for name in scope):
                        raise OperationNotPermitted("Cannot import since found existing subjects")
                    records = [
                        Tombstone(name, r.version)
                        for name in scope
                        for r in state.versions(name, deleted=True)
                    ]
            self._write([*records, ModeRecord(subject, mode)])

    def delete_mode(self, subject: str | None) -> Mode:
        """Remove the mode setting of `subject` (None: global) and return the mode it had."""
        with self._write_lock:
            self._catch_up()
            with self._changed:
                if subject is not None and subject not in self._state.modes:
                    raise SubjectNotFound(subject)
                previous = self._state.mode(subject)
            self._write([ModeRecord(subject, None)])
            return previous
