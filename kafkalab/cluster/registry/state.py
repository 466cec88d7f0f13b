"""What the `_schemas` log says, built by applying its records in offset order.

Every registry process replays the same records into a `RegistryState` and so reaches the same
state. Queries raise Confluent's error for whatever is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import avro.schema

from kafkalab.cluster.registry.canonical import equivalence
from kafkalab.cluster.registry.compatibility import (
    DEFAULT_LEVEL,
    CompatibilityLevel,
    PastVersion,
    Prepared,
    identity,
    parse,
)
from kafkalab.cluster.registry.errors import SchemaNotFound, SubjectNotFound, VersionNotFound
from kafkalab.cluster.registry.records import (
    ConfigRecord,
    Mode,
    ModeRecord,
    Record,
    SchemaRecord,
    Tombstone,
)


@dataclass
class StoredSchema:
    """A schema as its id names it: the text stored, its identity (the canonical string) and its
    equivalence key. The parsed Avro schema is made once, on first use, and kept."""

    id: int
    schema: str
    schema_type: str
    identity: str
    _key: str | None = None
    _parsed: avro.schema.Schema | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = equivalence(self.identity)
        return self._key

    @property
    def parsed(self) -> avro.schema.Schema:
        if self._parsed is None:
            self._parsed = parse(self.schema)
        return self._parsed


@dataclass
class RegistryState:
    """Everything the registry knows. Changed only by `apply`; every replica gets the same result.

    Ids are never forgotten while the log holds them, even after a hard delete, so data written
    with an id stays readable and an id is never given to a different schema.
    """

    subjects: dict[str, dict[int, SchemaRecord]] = field(default_factory=dict)
    schemas: dict[int, StoredSchema] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # identity -> first id given to it
    configs: dict[str | None, ConfigRecord] = field(default_factory=dict)
    modes: dict[str | None, Mode] = field(default_factory=dict)

    def apply(self, record: Record) -> bool:
        """Apply one record; False when it loses to an earlier record and is ignored.

        A SCHEMA record loses when its (subject, version) already holds another id, or when its
        id already names another schema: whichever was written first stays.
        """
        if isinstance(record, ConfigRecord):
            if record.removed:
                self.configs.pop(record.subject, None)
            else:
                self.configs[record.subject] = record
            return True
        if isinstance(record, ModeRecord):
            if record.mode is None:
                self.modes.pop(record.subject, None)
            else:
                self.modes[record.subject] = record.mode
            return True
        if isinstance(record, Tombstone):
            versions = self.subjects.get(record.subject, {})
            versions.pop(record.version, None)
            if not versions:
                self.subjects.pop(record.subject, None)
            return True
        same = identity(record.schema)
        known = self.schemas.get(record.id)
        if known is not None and known.identity != same:
            return False
        current = self.subjects.get(record.subject, {}).get(record.version)
        if current is not None and current.id != record.id:
            return False
        if known is None:
            self.schemas[record.id] = StoredSchema(
                record.id, record.schema, record.schema_type, same
            )
            self.ids.setdefault(same, record.id)
        self.subjects.setdefault(record.subject, {})[record.version] = record
        return True

    # Queries. They raise the Confluent error for whatever is missing.

    def versions(self, subject: str, deleted: bool = False) -> list[SchemaRecord]:
        """The subject's versions, oldest first; soft-deleted ones only when `deleted`."""
        found = self.subjects.get(subject, {})
        return [found[n] for n in sorted(found) if deleted or not found[n].deleted]

    def history(self, subject: str) -> list[PastVersion]:
        """The live versions as compatibility checks want them, each parsed at most once ever."""
        return [
            PastVersion(r.version, r.schema, self.schemas[r.id].parsed)
            for r in self.versions(subject)
        ]

    def subject_names(self, deleted: bool = False, deleted_only: bool = False) -> list[str]:
        """Subjects with a live version (plus, with `deleted`, those with only soft-deleted ones;
        with `deleted_only`, only those). A subject counts as deleted once all its versions are."""
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

    def get(self, subject: str, version: int | None) -> SchemaRecord | None:
        """A live version (None: the latest), or None: Confluent's `get(subject, version)`."""
        versions = self.versions(subject)
        if version is None:
            return versions[-1] if versions else None
        return next((r for r in versions if r.version == version), None)

    def find(self, subject: str, schema: Prepared, deleted: bool = False) -> SchemaRecord | None:
        """The version of `subject` holding `schema`: by identity first, then (as Confluent's
        `canLookup`) any version Avro considers equal, newest first."""
        versions = list(reversed(self.versions(subject, deleted)))
        for record in versions:
            if self.schemas[record.id].identity == schema.text:
                return record
        for record in versions:
            if self.schemas[record.id].key == schema.key:
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
        for scope in (subject, None) if subject is not None else (None,):
            config = self.configs.get(scope)
            if config is not None and config.level is not None:
                return config.level
        return DEFAULT_LEVEL

    def normalize(self, subject: str | None = None) -> bool:
        """Whether registrations are normalised: the subject's setting, else the global one."""
        for scope in (subject, None) if subject is not None else (None,):
            config = self.configs.get(scope)
            if config is not None and config.normalize is not None:
                return config.normalize
        return False

    def mode(self, subject: str | None = None) -> Mode:
        """The mode that applies: the subject's own, else the global one, else READWRITE."""
        if subject is not None and subject in self.modes:
            return self.modes[subject]
        return self.modes.get(None, Mode.READWRITE)

    def next_id(self, schema: str) -> int:
        """The id `schema` (its identity) has anywhere in the registry, or one past the highest."""
        return self.ids.get(schema) or max(self.schemas, default=0) + 1

    def next_version(self, subject: str) -> int:
        """One past the highest version, soft-deleted ones included (Confluent never reuses them)."""
        return max(self.subjects.get(subject, {}), default=0) + 1
