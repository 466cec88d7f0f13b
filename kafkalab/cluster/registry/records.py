"""What one message in the compacted `_schemas` topic means, and how it is written.

Record format (the same keys and values Confluent's registry uses, minus its `magic` field):

    key   {"keytype": "SCHEMA", "subject": s, "version": v}
    value {"subject": s, "version": v, "id": n, "schema": "...", "deleted": false}
          (+ "schemaType" when not AVRO; a null value is a hard delete of that version)
    key   {"keytype": "CONFIG", "subject": s or null}
    value {"compatibilityLevel": "BACKWARD", "normalize": true}  (each optional; null removes)
    key   {"keytype": "MODE", "subject": s or null}
    value {"mode": "READONLY"}  (a null value removes the setting)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kafkalab.cluster.registry.compatibility import AVRO, CompatibilityLevel, parse_level


class Mode(StrEnum):
    """Confluent's modes. READONLY refuses every write; IMPORT accepts registrations that bring
    their own id and version (and only those), skipping compatibility checks."""

    READWRITE = "READWRITE"
    READONLY = "READONLY"
    IMPORT = "IMPORT"


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
            "version": self.version,
            "id": self.id,
            "schema": self.schema,
        }
        if self.schema_type != AVRO:
            body["schemaType"] = self.schema_type
        return body


@dataclass(frozen=True)
class ConfigRecord:
    """A subject's settings, or the global ones when `subject` is None. Both None: removed."""

    subject: str | None
    level: CompatibilityLevel | None
    normalize: bool | None = None

    @property
    def removed(self) -> bool:
        return self.level is None and self.normalize is None


@dataclass(frozen=True)
class ModeRecord:
    """A subject's mode, or the global one when `subject` is None; None removes it."""

    subject: str | None
    mode: Mode | None


@dataclass(frozen=True)
class Tombstone:
    """A hard delete of one subject version."""

    subject: str
    version: int


Record = SchemaRecord | ConfigRecord | ModeRecord | Tombstone


def _json(value: dict[str, Any]) -> bytes:
    # Keys must be byte-identical for compaction to treat them as one: fixed order, no spaces.
    return json.dumps(value, separators=(",", ":")).encode()


def encode(record: Record) -> tuple[bytes, bytes | None]:
    """The (key, value) of `record` in `_schemas`."""
    if isinstance(record, ConfigRecord):
        key = _json({"keytype": "CONFIG", "subject": record.subject})
        if record.removed:
            return key, None
        config: dict[str, Any] = {}
        if record.level is not None:
            config["compatibilityLevel"] = record.level.value
        if record.normalize is not None:
            config["normalize"] = record.normalize
        return key, _json(config)
    if isinstance(record, ModeRecord):
        key = _json({"keytype": "MODE", "subject": record.subject})
        return key, None if record.mode is None else _json({"mode": record.mode.value})
    key = _json({"keytype": "SCHEMA", "subject": record.subject, "version": record.version})
    if isinstance(record, Tombstone):
        return key, None
    return key, _json({**record.response(), "deleted": record.deleted})


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
        config = json.loads(value)
        level = config.get("compatibilityLevel")
        normalize = config.get("normalize")
        return ConfigRecord(
            k.get("subject"),
            None if level is None else parse_level(level),
            None if normalize is None else bool(normalize),
        )
    if keytype == "MODE":
        mode = None if value is None else Mode(json.loads(value)["mode"])
        return ModeRecord(k.get("subject"), mode)
    if keytype != "SCHEMA":
        return None
    subject, version = str(k["subject"]), int(k["version"])
    if value is None:
        return Tombstone(subject, version)
    v = json.loads(value)
    schema = str(v["schema"])
    json.loads(schema)  # raises ValueError for text that is not JSON
    return SchemaRecord(
        subject=subject,
        version=version,
        id=int(v["id"]),
        schema=schema,
        schema_type=str(v.get("schemaType") or AVRO),
        deleted=bool(v.get("deleted", False)),
    )
