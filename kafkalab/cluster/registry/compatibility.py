"""Avro schema rules: what a schema is, its identity, and the compatibility levels.

Pure functions over schema text, no Kafka and no HTTP, so every rule is unit-tested on its own.
`prepare` turns request text into what Confluent would store (see `canonical`); the
reader/writer check itself is Avro's (`avro.compatibility`), and `check` decides which schema
plays reader and which writer for each level and words the result as Confluent does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from kafkalab.cluster.registry import canonical as canon

AVRO = "AVRO"

# How often schemas were parsed and pairs checked: lets tests prove the work stays linear.
COUNTS: Counter[str] = Counter()


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
    """AVRO (the default when a client sends none). Other types are refused with the message
    Confluent gives for a type it has no provider for."""
    kind = (schema_type or AVRO).upper()
    if kind != AVRO:
        raise InvalidSchema(f"Invalid schema type {schema_type}")
    return kind


@dataclass(frozen=True)
class Prepared:
    """A schema as Confluent would store it: `text` is the canonical (or normalised) string,
    which is also its identity; `key` is equal for schemas Avro considers equal."""

    text: str
    key: str


def prepare(schema_text: object, normalize: bool = False, new: bool = False) -> Prepared:
    """Parse, check and canonicalise request text. `new` also validates field defaults, as
    Confluent does for schemas being registered or tested (not for lookups or imports)."""
    if not isinstance(schema_text, str) or not schema_text.strip():
        raise InvalidSchema("Empty schema")
    try:
        node = canon.parse(schema_text, validate_defaults=new)
        text = canon.normalized(node) if normalize else canon.canonical(node)
    except canon.SchemaError as exc:
        raise InvalidSchema(f"Invalid schema of type AVRO, details: {exc}") from None
    parse(text)
    return Prepared(text, canon.equivalence(text))


def identity(schema_text: str) -> str:
    """The canonical string of already-stored text (texts stored by older kafkalab versions
    were kept as sent); falls back to the text itself for anything Java Avro would not parse."""
    return _identity(schema_text)


@lru_cache(maxsize=4096)
def _identity(schema_text: str) -> str:
    try:
        return canon.canonical(canon.parse(schema_text))
    except canon.SchemaError:
        return schema_text


@lru_cache(maxsize=4096)
def parse(schema_text: str) -> avro.schema.Schema:
    """The parsed Avro schema (Python's avro library decides validity and compatibility)."""
    if not isinstance(schema_text, str) or not schema_text.strip():
        raise InvalidSchema("Empty schema")
    COUNTS["parses"] += 1
    try:
        return avro.schema.parse(schema_text)
    except (avro.errors.AvroException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSchema(f"Invalid schema of type AVRO, details: {exc}") from None


@dataclass(frozen=True)
class PastVersion:
    """One registered version a new schema is checked against. `parsed` lets the caller hand in
    a schema it already parsed, so a long history is never parsed twice."""

    version: int
    schema: str
    parsed: avro.schema.Schema | None = None

    def avro(self) -> avro.schema.Schema:
        return self.parsed if self.parsed is not None else parse(self.schema)


def check(
    level: CompatibilityLevel,
    new_schema: str,
    history: Sequence[PastVersion],
    validate_fields: bool = False,
) -> list[str]:
    """Why `new_schema` may not follow `history` (oldest first) under `level`; [] when it may.

    Confluent's order and wording: non-transitive levels look at the latest version, transitive
    ones at every version from the newest back, stopping at the first that fails. BACKWARD puts
    the new schema in the reader's seat, FORWARD the old one, FULL asks both (old-reads-new
    first). Messages are Confluent's `{errorType:...}` lines, each direction's followed by
    `{oldSchemaVersion: n}` and `{oldSchema: '...'}` (in FULL only the new-reads-old one), and a
    closing
    `{validateFields: 'false', compatibility: 'LEVEL'}`.
    """
    if level is CompatibilityLevel.NONE or not history:
        return []
    new = parse(new_schema)
    targets = list(reversed(history if level.transitive else history[-1:]))
    messages: list[str] = []
    for past in targets:
        old = past.avro()
        about_old = [f"{{oldSchemaVersion: {past.version}}}", f"{{oldSchema: '{past.schema}'}}"]
        if level.forward:
            found = _differences(old, new, "old", "new")
            # FULL names the old schema once, after its new-reads-old half.
            messages += found + (about_old if found and not level.backward else [])
        if level.backward:
            found = _differences(new, old, "new", "old")
            messages += found + (about_old if found else [])
        if messages:
            break
    if messages:
        flag = "true" if validate_fields else "false"
        messages.append(f"{{validateFields: '{flag}', compatibility: '{level}'}}")
    return messages


_DESCRIPTIONS: dict[str, Callable[[str, str, str, str], str]] = {
    "TYPE_MISMATCH": lambda path, info, r, w: (
        f"The type (path '{path}') of a field in the {r} schema does not match with the {w} schema"
    ),
    "NAME_MISMATCH": lambda path, info, r, w: f"The name of the schema has changed (path '{path}')",
    "FIXED_SIZE_MISMATCH": lambda path, info, r, w: (
        f"The size of FIXED type field at path '{path}' in the {r} schema does not match with "
        f"the {w} schema"
    ),
    "MISSING_ENUM_SYMBOLS": lambda path, info, r, w: (
        f"The {r} schema is missing enum symbols '{info}' at path '{path}' in the {w} schema"
    ),
    "MISSING_UNION_BRANCH": lambda path, info, r, w: (
        f"The {r} schema is missing a type inside a union field at path '{path}' in the {w} schema"
    ),
    "READER_FIELD_MISSING_DEFAULT_VALUE": lambda path, info, r, w: (
        f"The field '{info}' at path '{path}' in the {r} schema has no default value and is "
        f"missing in the {w} schema"
    ),
}


def _differences(
    reader: avro.schema.Schema, writer: avro.schema.Schema, reader_is: str, writer_is: str
) -> list[str]:
    """Confluent's `Difference` lines for one reader/writer pair ([] when compatible)."""
    COUNTS["pairs"] += 1
    # A fresh checker every time: Avro memoises by object identity inside one checker.
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    # Python's avro keeps messages and locations as sets, not per incompatibility: they pair
    # exactly when there is one incompatibility, and are joined when there are several.
    info = ", ".join(sorted(_java_message(m) for m in result.messages))
    path = ", ".join(sorted(result.locations))
    lines = []
    for kind in dict.fromkeys(k.name.upper() for k in result.incompatibilities):
        describe = _DESCRIPTIONS.get(kind, lambda *_: "")
        description = describe(path, info, reader_is, writer_is)
        lines.append(
            f"{{errorType:'{kind}', description:'{description}', additionalInfo:'{info}'}}"
        )
    return lines


def _java_message(message: str) -> str:
    """Java Avro's wording of Python avro's messages: upper-case type names, plain symbol lists."""
    message = re.sub(
        r"(reader type|writer type): (\w+)", lambda m: f"{m[1]}: {m[2].upper()}", message
    )
    if message.startswith("{") and message.endswith("}"):
        message = ", ".join(sorted(s.strip().strip("'") for s in message[1:-1].split(",")))
    return message
