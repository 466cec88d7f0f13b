"""The identity of an Avro schema as Confluent's registry sees it, rebuilt in Python.

Confluent's registry parses a schema with Java Avro and keeps `Schema.toString()` of the result
(`AvroSchema.canonicalString()`): the same schema sent with other spacing, another key order or a
key Avro ignores (`{"type": "int", "name": "x"}` is just `"int"`) is stored, found and answered
as one compact string. `?normalize=true` goes further (`AvroSchema.normalize()`): custom
properties and aliases are sorted and names written in full before that string is taken.

Python's `avro` library renders schemas differently, so this module models what Java Avro 1.12
parses (`Schema.parse`, `Field`, `JsonProperties`) and writes (`Schema.toJson`), and what
Confluent's `AvroSchemaUtils.toNormalizedString` writes, closely enough that the strings match
Confluent's byte for byte. Validity is still decided by `avro.schema.parse` (see compatibility);
this module also checks field defaults the way Java Avro does for new schemas
(`Parser.setValidateDefaults(true)`), which Python's library does not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from kafkalab.cluster.registry.jsontext import JavaFloat
from kafkalab.cluster.registry.jsontext import dump as _dump
from kafkalab.cluster.registry.jsontext import string as _string

PRIMITIVES = ("string", "bytes", "int", "long", "float", "double", "boolean", "null")
# Every Schema.Type name: a name in the current namespace equal to one of these is written in full.
TYPE_NAMES = frozenset((*PRIMITIVES, "record", "enum", "array", "map", "union", "fixed"))
SCHEMA_RESERVED = frozenset(
    ("doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases")
)
ENUM_RESERVED = SCHEMA_RESERVED | {"default"}
FIELD_RESERVED = frozenset(("default", "doc", "name", "order", "type", "aliases"))
ORDERS = ("ascending", "descending", "ignore")
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


class SchemaError(ValueError):
    """The JSON is not a schema Java Avro would accept; the message says why."""


class Missing:
    """No default at all, as opposed to a default of JSON null."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


@dataclass(frozen=True)
class Name:
    """Avro's `Schema.Name`: a simple name and its namespace (None when there is none)."""

    name: str
    space: str | None

    @staticmethod
    def parse(text: str, space: str | None) -> Name:
        if "." in text:
            space, text = text.rsplit(".", 1)
        return Name(text, space or None)

    @property
    def full(self) -> str:
        return self.name if self.space is None else f"{self.space}.{self.name}"

    def qualified(self, current: str | None) -> str:
        """The name as written inside namespace `current` (Java's `Name.getQualified`)."""
        if self.space is not None and self.space == current and self.name not in TYPE_NAMES:
            return self.name
        return self.full


@dataclass(eq=False)
class Node:
    """One parsed schema. Named types are shared objects: a reference is the same node."""

    type: str
    props: dict[str, Any] = field(default_factory=dict)
    logical: str | None = None


@dataclass(eq=False)
class Named(Node):
    name: Name = Name("", None)
    doc: str | None = None
    aliases: list[Name] = field(default_factory=list)


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    doc: str | None
    default: Any
    order: str
    aliases: list[str]
    props: dict[str, Any]


@dataclass(eq=False)
class Record(Named):
    fields: list[Field] = field(default_factory=list)
    error: bool = False


@dataclass(eq=False)
class Enum(Named):
    symbols: list[str] = field(default_factory=list)
    default: str | None = None


@dataclass(eq=False)
class Fixed(Named):
    size: int = 0


@dataclass(eq=False)
class Array(Node):
    items: Node = field(default_factory=lambda: Node("null"))


@dataclass(eq=False)
class Map(Node):
    values: Node = field(default_factory=lambda: Node("null"))


@dataclass(eq=False)
class Union(Node):
    branches: list[Node] = field(default_factory=list)


# --- Parsing, as Java Avro's Schema.parse does it.


def parse(text: str, validate_defaults: bool = False) -> Node:
    """The schema `text` describes. Raises SchemaError; with `validate_defaults`, also for a
    field default that does not match its type (Confluent validates new schemas that way)."""
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"not JSON ({exc})") from None
    return _Parser(validate_defaults).parse(document, None)


class _Parser:
    def __init__(self, validate_defaults: bool) -> None:
        self.validate_defaults = validate_defaults
        self.names: dict[str, Named] = {}

    def parse(self, node: Any, space: str | None) -> Node:
        if isinstance(node, str):
            return self.find(node, space)
        if isinstance(node, list):
            return Union("union", branches=[self.parse(branch, space) for branch in node])
        if not isinstance(node, dict):
            raise SchemaError(f"Schema not yet supported: {_dump(node)}")
        kind = node.get("type")
        if not isinstance(kind, str):
            raise SchemaError(f"No type: {_dump(node)}")
        if kind in PRIMITIVES:
            return _with_props(Node(kind), node, SCHEMA_RESERVED)
        if kind in ("record", "error"):
            return self.record(node, space, kind == "error")
        if kind == "enum":
            return self.enum(node, space)
        if kind in ("array", "map"):
            key = "items" if kind == "array" else "values"
            if key not in node:
                raise SchemaError(f"{kind.title()} has no {key} type: {_dump(node)}")
            inner = self.parse(node[key], space)
            made: Node = Array(kind, items=inner) if kind == "array" else Map(kind, values=inner)
            return _with_props(made, node, SCHEMA_RESERVED)
        if kind == "fixed":
            size = node.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or not _fits(size, INT_RANGE):
                raise SchemaError(f"Invalid or no size: {_dump(node)}")
            fixed = Fixed("fixed", name=_name(node, space), doc=_text(node, "doc"), size=size)
            return self.define(_with_props(fixed, node, SCHEMA_RESERVED), node)
        return self.find(kind, space)

    def find(self, name: str, space: str | None) -> Node:
        if name in PRIMITIVES:
            return Node(name)
        full = f"{space}.{name}" if space is not None and "." not in name else name
        found = self.names.get(full) or self.names.get(name)
        if found is None:
            raise SchemaError(f'"{full}" is not a defined name')
        return found

    def define(self, named: Named, node: dict[str, Any]) -> Named:
        aliases = node.get("aliases")
        if aliases is not None:
            for alias in _aliases(aliases, node):
                qualified = Name.parse(alias, named.name.space)
                if qualified not in named.aliases:
                    named.aliases.append(qualified)
        if named.name.full in self.names:
            raise SchemaError(f"Can't redefine: {named.name.full}")
        self.names[named.name.full] = named
        return named

    def record(self, node: dict[str, Any], space: str | None, error: bool) -> Record:
        record = Record("record", name=_name(node, space), doc=_text(node, "doc"), error=error)
        fields = node.get("fields")
        if not isinstance(fields, list):
            raise SchemaError(f"Record has no fields: {_dump(node)}")
        # Registered before its fields, so that a field may refer to the record itself.
        self.define(record, {})
        for item in fields:
            record.fields.append(self.field(item, record.name.space))
        _with_props(record, node, SCHEMA_RESERVED)
        aliases = node.get("aliases")
        if aliases is not None:
            record.aliases = []
            for alias in _aliases(aliases, node):
                qualified = Name.parse(alias, record.name.space)
                if qualified not in record.aliases:
                    record.aliases.append(qualified)
        return record

    def field(self, node: Any, space: str | None) -> Field:
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            raise SchemaError(f"No field name: {_dump(node)}")
        if "type" not in node:
            raise SchemaError(f"No field type: {_dump(node)}")
        schema = self.parse(node["type"], space)
        order = node.get("order", "ascending")
        if not isinstance(order, str) or order.lower() not in ORDERS:
            raise SchemaError(f"Invalid order for field {node['name']}: {_dump(order)}")
        default = node.get("default", MISSING)
        if schema.type in ("float", "double") and isinstance(default, str):
            try:
                default = float(default)
            except ValueError:
                raise SchemaError(f"Invalid default for field {node['name']}: {default}") from None
        if self.validate_defaults and default is not MISSING and not valid_default(schema, default):
            raise SchemaError(
                f"Invalid default for field {node['name']}: {_dump(default)} not a {canonical(schema)}"
            )
        aliases: list[str] = []
        if "aliases" in node:
            for alias in _aliases(node["aliases"], node):
                if alias not in aliases:
                    aliases.append(alias)
        props = {k: v for k, v in node.items() if k not in FIELD_RESERVED}
        return Field(
            node["name"], schema, _text(node, "doc"), default, order.lower(), aliases, props
        )

    def enum(self, node: dict[str, Any], space: str | None) -> Enum:
        symbols = node.get("symbols")
        if not isinstance(symbols, list):
            raise SchemaError(f"Enum has no symbols: {_dump(node)}")
        if any(not isinstance(symbol, str) for symbol in symbols):
            raise SchemaError(f"Enum symbols must be strings: {_dump(node)}")
        default = _text(node, "default")
        if default is not None and default not in symbols:
            raise SchemaError(
                f"The Enum Default: {default} is not in the enum symbol set: {symbols}"
            )
        enum = Enum("enum", name=_name(node, space), doc=_text(node, "doc"), symbols=list(symbols))
        enum.default = default
        return self.define(_with_props(enum, node, ENUM_RESERVED), node)  # type: ignore[return-value]


def _with_props(made: Node, node: dict[str, Any], reserved: frozenset[str]) -> Any:
    made.props = {k: v for k, v in node.items() if k not in reserved}
    made.logical = _logical_type(made)
    return made


def _name(node: dict[str, Any], space: str | None) -> Name:
    text = _text(node, "name")
    if text is None:
        raise SchemaError(f"No name in schema: {_dump(node)}")
    namespace = _text(node, "namespace")
    return Name.parse(text, space if namespace is None else namespace)


def _text(node: dict[str, Any], key: str) -> str | None:
    value = node.get(key)
    return value if isinstance(value, str) else None


def _aliases(value: Any, node: Any) -> list[str]:
    if not isinstance(value, list):
        raise SchemaError(f"aliases not an array: {_dump(node)}")
    for alias in value:
        if not isinstance(alias, str):
            raise SchemaError(f"alias not a string: {_dump(alias)}")
    return value


def _fits(number: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= number <= bounds[1]


def _logical_type(node: Node) -> str | None:
    """The logical type Java Avro recognises on `node` (LogicalTypes.fromSchemaIgnoreInvalid)."""
    name = node.props.get("logicalType")
    if not isinstance(name, str):
        return None
    allowed = {
        "decimal": ("bytes", "fixed"),
        "big-decimal": ("bytes",),
        "uuid": ("string", "fixed"),
        "date": ("int",),
        "time-millis": ("int",),
        "time-micros": ("long",),
        "timestamp-millis": ("long",),
        "timestamp-micros": ("long",),
        "timestamp-nanos": ("long",),
        "local-timestamp-millis": ("long",),
        "local-timestamp-micros": ("long",),
        "local-timestamp-nanos": ("long",),
        "duration": ("fixed",),
    }
    if node.type not in allowed.get(name, ()):
        return None
    if name == "decimal":
        precision, scale = node.props.get("precision"), node.props.get("scale", 0)
        if not isinstance(precision, int) or not isinstance(scale, int) or precision <= 0:
            return None
        if scale < 0 or scale > precision:
            return None
        if isinstance(node, Fixed) and precision > math.floor(math.log10(2) * (8 * node.size - 1)):
            return None
    if name == "uuid" and isinstance(node, Fixed) and node.size != 16:
        return None
    if name == "duration" and isinstance(node, Fixed) and node.size != 12:
        return None
    return name


# --- Field defaults, as Java Avro 1.12 checks them (Schema.isValidDefault).


def valid_default(schema: Node, value: Any) -> bool:
    """Whether JSON `value` is a valid default for `schema` (any union branch may match)."""
    if value is MISSING:
        return False
    kind = schema.type
    if kind in ("string", "bytes", "enum", "fixed"):
        return isinstance(value, str)
    if kind in ("int", "long"):
        bounds = INT_RANGE if kind == "int" else LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and _fits(value, bounds)
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if isinstance(schema, Array):
        return isinstance(value, list) and all(valid_default(schema.items, v) for v in value)
    if isinstance(schema, Map):
        return isinstance(value, dict) and all(
            valid_default(schema.values, v) for v in value.values()
        )
    if isinstance(schema, Union):
        return any(valid_default(branch, value) for branch in schema.branches)
    if isinstance(schema, Record):
        return isinstance(value, dict) and all(
            valid_default(f.type, value.get(f.name, f.default)) for f in schema.fields
        )
    return False


# --- Writing, as Java Avro's Schema.toString() does it.


def canonical(schema: Node) -> str:
    """Java Avro's `Schema.toString()` of `schema`: what Confluent stores and answers."""
    out: list[str] = []
    _write(schema, set(), None, out)
    return "".join(out)


def _write(node: Node, known: set[str], space: str | None, out: list[str]) -> None:
    if isinstance(node, Union):
        out.append("[")
        for i, branch in enumerate(node.branches):
            out.append("," if i else "")
            _write(branch, known, space, out)
        out.append("]")
        return
    if isinstance(node, Named):
        if node.name.full in known:
            out.append(_string(node.name.qualified(space)))
            return
        known.add(node.name.full)
        kind = "error" if isinstance(node, Record) and node.error else node.type
        out.append('{"type":' + _string(kind) + ',"name":' + _string(node.name.name))
        if node.name.space is not None:
            if node.name.space != space:
                out.append(',"namespace":' + _string(node.name.space))
        elif space is not None:
            out.append(',"namespace":""')
        if node.doc is not None:
            out.append(',"doc":' + _string(node.doc))
        if isinstance(node, Record):
            out.append(',"fields":[')
            for i, item in enumerate(node.fields):
                out.append("," if i else "")
                _write_field(item, known, node.name.space, out)
            out.append("]")
        elif isinstance(node, Enum):
            out.append(',"symbols":' + _dump(node.symbols))
            if node.default is not None:
                out.append(',"default":' + _string(node.default))
        elif isinstance(node, Fixed):
            out.append(f',"size":{node.size}')
        _write_props(node.props, out)
        if node.aliases:
            aliases = [alias.qualified(node.name.space) for alias in node.aliases]
            out.append(',"aliases":' + _dump(aliases))
        out.append("}")
        return
    if isinstance(node, Array | Map):
        key, inner = ("items", node.items) if isinstance(node, Array) else ("values", node.values)
        out.append('{"type":"' + node.type + '","' + key + '":')
        _write(inner, known, space, out)
        _write_props(node.props, out)
        out.append("}")
        return
    if not node.props:
        out.append(_string(node.type))
        return
    out.append('{"type":' + _string(node.type))
    _write_props(node.props, out)
    out.append("}")


def _write_field(item: Field, known: set[str], space: str | None, out: list[str]) -> None:
    out.append('{"name":' + _string(item.name) + ',"type":')
    _write(item.type, known, space, out)
    if item.doc is not None:
        out.append(',"doc":' + _string(item.doc))
    if item.default is not MISSING:
        out.append(',"default":' + _dump(item.default))
    if item.order != "ascending":
        out.append(',"order":' + _string(item.order))
    if item.aliases:
        out.append(',"aliases":' + _dump(item.aliases))
    _write_props(item.props, out)
    out.append("}")


def _write_props(props: dict[str, Any], out: list[str]) -> None:
    for key, value in props.items():
        out.append("," + _string(key) + ":" + _dump(value))


# --- Confluent's normalisation (AvroSchemaUtils.toNormalizedString), then the canonical form.


def normalized(schema: Node) -> str:
    """What Confluent stores for `?normalize=true`: its normalised text, parsed and written again
    by Java Avro (so its quirks, such as names written in full, come out as Confluent's do)."""
    out: list[str] = []
    _build(schema, {}, out)
    return canonical(parse("".join(out)))


def _build(node: Node, env: dict[str, str], out: list[str]) -> None:
    if isinstance(node, Union):
        out.append("[")
        for i, branch in enumerate(node.branches):
            out.append("," if i else "")
            _build(branch, env, out)
        out.append("]")
        return
    if isinstance(node, Array | Map):
        key, inner = ("items", node.items) if isinstance(node, Array) else ("values", node.values)
        out.append('{"type":"' + node.type + '","' + key + '":')
        _build(inner, env, out)
        _logical_props(node, out)
        _sorted_props(node.props, out)
        out.append("}")
        return
    if isinstance(node, Named):
        full = node.name.full
        if full in env:
            out.append(env[full])
            return
        env[full] = _string(full)
        out.append('{"name":' + env[full] + ',"type":"' + node.type + '"')
        if isinstance(node, Enum):
            out.append(',"symbols":' + _dump(node.symbols))
        elif isinstance(node, Fixed):
            out.append(f',"size":{node.size}')
        else:
            assert isinstance(node, Record)
            out.append(',"fields":[')
            for i, item in enumerate(node.fields):
                out.append("," if i else "")
                out.append('{"name":' + _string(item.name) + ',"type":')
                _build(item.type, env, out)
                out.append(',"order":"' + item.order.upper() + '"')
                if item.doc is not None:
                    out.append(',"doc":' + _string(item.doc))
                if item.aliases:
                    out.append(',"aliases":' + _dump(sorted(set(item.aliases))))
                default = _default_object(item.default, item.type)
                if default is not MISSING:
                    out.append(',"default":' + _dump(default))
                _sorted_props(item.props, out)
                out.append("}")
            out.append("]")
        _logical_props(node, out)
        if node.doc:
            out.append(',"doc":' + _string(node.doc))
        if node.aliases:
            names = {
                f".{a.name}" if a.space is None and node.name.space is not None else a.full
                for a in node.aliases
            }
            out.append(',"aliases":' + _dump(sorted(names)))
        if isinstance(node, Enum) and node.default is not None:
            out.append(',"default":' + _string(node.default))
        _sorted_props(node.props, out)
        out.append("}")
        return
    if node.logical is not None or node.props:
        out.append('{"type":"' + node.type + '"')
        _logical_props(node, out)
        _sorted_props(node.props, out)
        out.append("}")
        return
    out.append(_string(node.type))


def _logical_props(node: Node, out: list[str]) -> None:
    if node.logical is None:
        return
    out.append(',"logicalType":' + _string(node.logical))
    if node.logical == "decimal":
        out.append(f',"precision":{node.props["precision"]}')
        if node.props.get("scale", 0):
            out.append(f',"scale":{node.props["scale"]}')


def _sorted_props(props: dict[str, Any], out: list[str]) -> None:
    for key in sorted(props):
        out.append("," + _string(key) + ":" + _dump(props[key]))


def _default_object(value: Any, schema: Node) -> Any:
    """A default as Java's `Field.defaultVal()` turns it into an object and back to JSON
    (JacksonUtils.toObject): numbers widen to the field's type, a union uses its first branch,
    and a value that fits none of the cases is dropped (MISSING)."""
    if isinstance(schema, Union):
        return _default_object(value, schema.branches[0]) if schema.branches else MISSING
    if value is MISSING or value is None or isinstance(value, bool):
        return value
    kind = schema.type
    if isinstance(value, int):
        if kind in ("int", "long"):
            return value
        if kind == "float":
            return JavaFloat(value)
        if kind == "double":
            return float(value)
        return MISSING
    if isinstance(value, float):
        if kind == "double":
            return value
        if kind == "float":
            return JavaFloat(value)
        return MISSING
    if isinstance(value, str):
        return value if kind in ("string", "enum", "bytes", "fixed") else MISSING
    if isinstance(value, list):
        inner = schema.items if isinstance(schema, Array) else None
        return [_default_object(v, inner) if inner else v for v in value]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            sub: Node | None = None
            if isinstance(schema, Map):
                sub = schema.values
            elif isinstance(schema, Record):
                sub = next((f.type for f in schema.fields if f.name == key), None)
            result[key] = _default_object(item, sub) if sub else item
        return result
    return value


def equivalence(canonical_text: str) -> str:
    """A key equal for schemas Java Avro calls equal (AvroSchema.equivalent): the canonical form
    with every object's keys sorted, since Avro compares custom properties as maps."""
    return json.dumps(json.loads(canonical_text), sort_keys=True, separators=(",", ":"))
