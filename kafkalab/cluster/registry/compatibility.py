"""Avro schema rules: parsing, the identity of a schema, and the compatibility levels.

Pure functions over schema text, no Kafka and no HTTP, so every rule is unit-tested on its own.
The reader/writer check itself is Avro's (`avro.compatibility`); this module only decides which
schema plays reader and which plays writer for each Confluent compatibility level.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

AVRO = "AVRO"


class CompatibilityLevel(StrEnum):
    """Confluent's compatibility levels. BACKWARD is the default, as in Confluent."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        """Checked against every live version rather than only the latest one."""
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        """The new schema must be able to read data written with the old one."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """Data written with the new schema must be readable with the old one."""
        return self.value.startswith(("FORWARD", "FULL"))


DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


class InvalidSchema(ValueError):
    """The text is not a schema this registry accepts (not JSON, not Avro, or not AVRO at all)."""


class InvalidLevel(ValueError):
    """The name is not one of the seven compatibility levels."""


def parse_level(name: object) -> CompatibilityLevel:
    """The level called `name` (any case), or InvalidLevel with the Confluent wording."""
    try:
        return CompatibilityLevel(str(name).upper())
    except ValueError:
        raise InvalidLevel(
            "Invalid compatibility level. Valid values are none, backward, forward, full, "
            "backward_transitive, forward_transitive, and full_transitive"
        ) from None


def check_schema_type(schema_type: str | None) -> str:
    """AVRO (the default when a client sends none); any other type is refused, not guessed at."""
    kind = (schema_type or AVRO).upper()
    if kind != AVRO:
        raise InvalidSchema(
            f"Invalid schema type {schema_type}: kafkalab's registry supports only AVRO schemas"
        )
    return kind


def normalize(schema_text: str) -> str:
    """The identity of a schema: its JSON re-dumped with sorted object keys and no whitespace.

    Two texts that differ only in spacing or key order are the same schema and get the same id.
    List order (fields, symbols, union branches) is kept because in Avro it carries meaning.
    """
    try:
        return json.dumps(json.loads(schema_text), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidSchema(f"Invalid schema: not JSON ({exc})") from None


@lru_cache(maxsize=1024)
def parse(schema_text: str) -> avro.schema.Schema:
    """The parsed Avro schema. Cached: registrations re-check old versions again and again."""
    if not isinstance(schema_text, str) or not schema_text.strip():
        raise InvalidSchema("Empty schema")
    try:
        return avro.schema.parse(schema_text)
    except (avro.errors.AvroException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSchema(f"Invalid schema: {exc}") from None


@dataclass(frozen=True)
class PastVersion:
    """One registered version a new schema is checked against."""

    version: int
    schema: str


def check(level: CompatibilityLevel, new_schema: str, history: Sequence[PastVersion]) -> list[str]:
    """Why `new_schema` may not follow `history` (oldest first) under `level`; [] when it may.

    Non-transitive levels look only at the last version, transitive ones at all of them.
    BACKWARD puts the new schema in the reader's seat (consumers upgrade first); FORWARD puts
    each old schema there (producers upgrade first); FULL asks both.
    """
    if level is CompatibilityLevel.NONE or not history:
        return []
    reader_of_new = parse(new_schema)
    targets = history if level.transitive else history[-1:]
    messages: list[str] = []
    for past in reversed(targets):
        old = parse(past.schema)
        if level.backward:
            messages += _problems(reader_of_new, old, past.version, "BACKWARD")
        if level.forward:
            messages += _problems(old, reader_of_new, past.version, "FORWARD")
        if messages:
            messages += [f"{{oldSchemaVersion: {past.version}}}", f"{{compatibility: '{level}'}}"]
            break
    return messages


def _problems(
    reader: avro.schema.Schema, writer: avro.schema.Schema, version: int, direction: str
) -> list[str]:
    # A fresh checker every time: Avro memoises by object identity inside one checker.
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    if direction == "BACKWARD":
        what = f"the new schema cannot read data written with version {version}"
    else:
        what = f"version {version} cannot read data written with the new schema"
    kinds = ", ".join(sorted({kind.name.upper() for kind in result.incompatibilities}))
    details = "; ".join(sorted(result.messages))
    where = ", ".join(sorted(result.locations))
    return [
        f"{{errorType:'{kinds}', description:'{direction}: {what}', "
        f"additionalInfo:'{details}', location:'{where}'}}"
    ]
