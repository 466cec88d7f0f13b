"""Cases ported from the peers' own suites, checked against kafkalab's registry rules (no broker).

Sources (each case names its own):
- Confluent schema-registry, core/src/test/java/io/confluent/kafka/schemaregistry/
  avro/AvroCompatibilityTest.java and rest/RestApiTest.java (v8.3.1);
- Karapace, tests/unit/test_avro_compatibility.py (type promotion, enum and union cases, which
  Karapace lifted from Java Avro's TestSchemaCompatibility*).
"""

from __future__ import annotations

import json
import time

import pytest

from kafkalab.cluster.registry.compatibility import (
    COUNTS,
    CompatibilityLevel,
    InvalidSchema,
    PastVersion,
    check,
    parse,
    prepare,
)

# --- Canonical form and normalisation (RestApiTest)


def test_extra_whitespace_is_the_same_schema() -> None:
    """RestApiTest.testCanonicalization: `{   "type":   "string"}` registers and looks up as
    the schema "string"."""
    assert prepare('{   "type":   "string"}').text == '"string"'


def test_keys_avro_ignores_do_not_make_another_schema() -> None:
    """Issue 10: `{"type":"int","name":"x"}` and `{"type":"int"}` are one schema in Confluent
    (Java Avro drops the reserved "name" of a primitive)."""
    assert prepare('{"type":"int","name":"x"}').text == prepare('{"type": "int"}').text == '"int"'


def test_canonical_form_is_java_avros_compact_string() -> None:
    """RestApiTest registers `AvroUtils.parseSchema(s).canonicalString()`: name before
    namespace, namespace split from a dotted name, no spaces, key order fixed."""
    text = json.dumps(
        {
            "fields": [{"type": "string", "name": "f", "default": "x", "doc": "d"}],
            "name": "a.b.User",
            "type": "record",
        },
        indent=2,
    )
    assert prepare(text).text == (
        '{"type":"record","name":"User","namespace":"a.b",'
        '"fields":[{"name":"f","type":"string","doc":"d","default":"x"}]}'
    )


def test_normalize_sorts_custom_properties() -> None:
    """RestApiTest.testNormalizeConfigFallback*: with zprop before aprop, the raw and the
    normalised canonical forms differ; normalisation sorts the properties."""
    text = (
        '{"type":"record","name":"myrecord","fields":'
        '[{"type":"string","name":"field1","zprop":"z","aprop":"a"}]}'
    )
    raw, normalized = prepare(text).text, prepare(text, normalize=True).text
    assert raw != normalized
    assert '"zprop":"z","aprop":"a"' in raw
    assert '"aprop":"a","zprop":"z"' in normalized
    # They are still the same schema to Avro, which is how a lookup without normalize finds a
    # version registered with it (Confluent's canLookup).
    assert prepare(text).key == prepare(text, normalize=True).key


def test_normalize_makes_nested_primitive_objects_plain() -> None:
    """RestApiTest.testSchemaNormalization: `{"type":{"type":"int"}}` and `{"type":"int"}` for a
    field, and custom properties in another order, normalise to one schema."""
    one = '{"type":"record","name":"r","fields":[{"type":{"type":"int"},"name":"f"}],"m":{"a":1,"b":2}}'
    two = '{"type":"record","name":"r","fields":[{"type":"int","name":"f"}],"m":{"b":2,"a":1}}'
    assert prepare(one, normalize=True).key == prepare(two, normalize=True).key


# --- Invalid defaults (RestApiTest, AvroCompatibilityTest)


@pytest.mark.parametrize(
    ("field", "why"),
    [
        # RestApiTest.testRegisterBadDefault: a string field defaulting to null.
        ({"type": "string", "default": None, "name": "f"}, 'null not a "string"'),
        # Issue 10: an int field defaulting to "foo".
        ({"type": "int", "default": "foo", "name": "f"}, '"foo" not a "int"'),
        ({"type": "int", "default": 2**31, "name": "f"}, 'not a "int"'),
        ({"type": {"type": "array", "items": "int"}, "default": ["a"], "name": "f"}, "not a"),
        ({"type": ["null", "int"], "default": "x", "name": "f"}, "not a"),
    ],
)
def test_new_schemas_with_invalid_defaults_are_refused(field: dict[str, object], why: str) -> None:
    text = json.dumps({"type": "record", "name": "myrecord", "fields": [field]})
    with pytest.raises(InvalidSchema, match="Invalid default for field f") as caught:
        prepare(text, new=True)
    assert why in str(caught.value)
    # A lookup does not validate defaults (Confluent's lookUpSchemaUnderSubject): stored data
    # that predates the check stays findable.
    assert prepare(text, new=False).text


def test_a_union_default_may_match_any_branch() -> None:
    """AvroCompatibilityTest.testBadDefaultNull: `["null","string"]` with default "null" (a
    string) parses, since Avro 1.12 accepts a default matching any branch."""
    text = json.dumps(
        {
            "type": "record",
            "name": "myrecord",
            "fields": [
                {"type": ["null", "string"], "name": "f1", "default": "null"},
                {"type": "string", "name": "f2", "default": "foo"},
            ],
        }
    )
    assert prepare(text, new=True).text


# --- The levels (AvroCompatibilityTest)


def record(*fields: dict[str, object]) -> str:
    return json.dumps({"type": "record", "name": "myrecord", "fields": list(fields)})


F1 = {"type": "string", "name": "f1"}
S1 = record(F1)
S2 = record(F1, {"type": "string", "name": "f2", "default": "foo"})
S3 = record(F1, {"type": "string", "name": "f2"})
S4 = record({"type": "string", "name": "f1_new", "aliases": ["f1"]})
S6 = record({"type": ["null", "string"], "name": "f1", "doc": "doc of f1"})
S7 = record({"type": ["null", "string", "int"], "name": "f1", "doc": "doc of f1"})
S8 = record(
    F1,
    {"type": "string", "name": "f2", "default": "foo"},
    {"type": "string", "name": "f3", "default": "bar"},
)


def compatible(level: str, new: str, *history: str) -> bool:
    """Whether `new` may follow `history` (oldest first, as Confluent's checker receives it)."""
    past = [PastVersion(i + 1, schema) for i, schema in enumerate(history)]
    return check(CompatibilityLevel(level), new, past) == []


@pytest.mark.parametrize(
    ("level", "new", "history", "expected"),
    [
        # testBasicBackwardsCompatibility
        ("BACKWARD", S2, [S1], True),
        ("BACKWARD", S3, [S1], False),
        ("BACKWARD", S4, [S1], True),
        ("BACKWARD", S6, [S1], True),
        ("BACKWARD", S1, [S6], False),
        ("BACKWARD", S7, [S6], True),
        ("BACKWARD", S6, [S7], False),
        ("BACKWARD", S3, [S1, S2], True),  # only the latest is checked
        # testBasicBackwardsTransitiveCompatibility
        ("BACKWARD_TRANSITIVE", S8, [S1, S2], True),
        ("BACKWARD_TRANSITIVE", S3, [S2], True),
        ("BACKWARD_TRANSITIVE", S3, [S1, S2], False),
        # testBasicForwardsCompatibility
        ("FORWARD", S2, [S1], True),
        ("FORWARD", S3, [S1], True),
        ("FORWARD", S3, [S2], True),
        ("FORWARD", S2, [S3], True),
        ("FORWARD", S1, [S3, S2], True),
        # testBasicForwardsTransitiveCompatibility
        ("FORWARD_TRANSITIVE", S1, [S8, S2], True),
        ("FORWARD_TRANSITIVE", S2, [S3], True),
        ("FORWARD_TRANSITIVE", S1, [S2], True),
        ("FORWARD_TRANSITIVE", S1, [S3, S2], False),
        # testBasicFullCompatibility
        ("FULL", S2, [S1], True),
        ("FULL", S3, [S1, S2], True),
        ("FULL", S1, [S3, S2], True),
        # testBasicFullTransitiveCompatibility
        ("FULL_TRANSITIVE", S8, [S1, S2], True),
        ("FULL_TRANSITIVE", S1, [S8, S2], True),
        ("FULL_TRANSITIVE", S2, [S3], True),
        ("FULL_TRANSITIVE", S1, [S2], True),
        ("FULL_TRANSITIVE", S3, [S1, S2], False),
        ("FULL_TRANSITIVE", S1, [S3, S2], False),
    ],
)
def test_avro_compatibility_test(level: str, new: str, history: list[str], expected: bool) -> None:
    """Confluent's AvroCompatibilityTest, case by case."""
    assert compatible(level, new, *history) is expected


def test_full_reports_the_forward_problem_first_and_the_old_schema_once() -> None:
    """SchemaValidatorBuilder.mutualReadStrategy: old-reads-new messages come first, without the
    old schema; new-reads-old messages carry oldSchemaVersion and oldSchema."""
    problems = check(CompatibilityLevel.FULL, S1, [PastVersion(1, S3)])
    assert problems[0].startswith("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'")
    assert "in the old schema has no default value and is missing in the new schema" in problems[0]
    assert not any(p.startswith("{oldSchema") for p in problems)
    assert problems[-1] == "{validateFields: 'false', compatibility: 'FULL'}"


# --- Type promotion, enums and unions (Karapace's test_avro_compatibility.py)

PROMOTIONS = [
    ("long", "int"),
    ("float", "int"),
    ("float", "long"),
    ("double", "long"),
    ("double", "int"),
    ("double", "float"),
    ("string", "bytes"),
    ("bytes", "string"),
]


@pytest.mark.parametrize(("reader", "writer"), PROMOTIONS)
def test_promotions_let_the_wider_type_read_the_narrower(reader: str, writer: str) -> None:
    """Karapace test_schema_compatibility (compatible_reader_writer_test_cases): a reader of the
    wider type reads the narrower; BACKWARD puts the new schema in the reader's seat."""
    assert compatible("BACKWARD", json.dumps(reader), json.dumps(writer))


@pytest.mark.parametrize(
    ("reader", "writer"),
    [("int", "long"), ("int", "float"), ("long", "float"), ("float", "double"), ("int", "null")],
)
def test_narrowing_is_a_type_mismatch(reader: str, writer: str) -> None:
    """Karapace test_schema_compatibility_type_mismatch, worded as Confluent's Difference."""
    problems = check(
        CompatibilityLevel.BACKWARD, json.dumps(reader), [PastVersion(1, json.dumps(writer))]
    )
    assert problems[0].startswith("{errorType:'TYPE_MISMATCH'")
    assert (
        f"reader type: {reader.upper()} not compatible with writer type: {writer.upper()}"
        in (problems[0])
    )


def enum(*symbols: str, default: str | None = None) -> str:
    body: dict[str, object] = {"type": "enum", "name": "Enum1", "symbols": list(symbols)}
    if default is not None:
        body["default"] = default
    return json.dumps(body)


def test_enum_cases() -> None:
    """Karapace: ENUM1_ABC reads ENUM1_AB; ENUM1_AB cannot read ENUM1_ABC (missing C) unless the
    reader has an enum default; a renamed enum is a NAME_MISMATCH."""
    assert compatible("BACKWARD", enum("A", "B", "C"), enum("A", "B"))
    problems = check(
        CompatibilityLevel.BACKWARD, enum("A", "B"), [PastVersion(1, enum("A", "B", "C"))]
    )
    assert problems[0].startswith("{errorType:'MISSING_ENUM_SYMBOLS'")
    assert "missing enum symbols 'C'" in problems[0]
    assert compatible("BACKWARD", enum("A", "B", default="A"), enum("A", "B", "C", default="A"))
    renamed = json.dumps({"type": "enum", "name": "Enum2", "symbols": ["A", "B"]})
    problems = check(CompatibilityLevel.BACKWARD, renamed, [PastVersion(1, enum("A", "B"))])
    assert problems[0].startswith("{errorType:'NAME_MISMATCH'")


def union_field(branches: object) -> str:
    return json.dumps({"type": "record", "name": "R", "fields": [{"name": "f", "type": branches}]})


def test_union_cases() -> None:
    """Karapace: a union reads a union with its branches in any order and a narrower member;
    a reader union lacking a writer branch is MISSING_UNION_BRANCH; evolving a field to a
    nullable union of itself is fine (test_union_to_simple_comparison)."""
    assert compatible("BACKWARD", union_field(["int", "string"]), union_field(["string", "int"]))
    assert compatible("BACKWARD", union_field(["float"]), union_field(["int", "long"]))
    problems = check(
        CompatibilityLevel.BACKWARD,
        union_field(["int"]),
        [PastVersion(1, union_field(["int", "string"]))],
    )
    assert problems[0].startswith("{errorType:'MISSING_UNION_BRANCH'")
    assert "/fields/0/type/1" in problems[0]
    for field in ("string", {"type": "map", "values": "int"}, {"type": "array", "items": "string"}):
        assert compatible("BACKWARD", union_field(["null", field]), union_field(field))


def test_fixed_size_mismatch() -> None:
    """Karapace test_schema_compatibility_fixed_size_mismatch."""
    four = json.dumps({"type": "fixed", "name": "Fixed", "size": 4})
    eight = json.dumps({"type": "fixed", "name": "Fixed", "size": 8})
    problems = check(CompatibilityLevel.BACKWARD, four, [PastVersion(1, eight)])
    assert problems[0].startswith("{errorType:'FIXED_SIZE_MISMATCH'")
    assert "expected: 8, found: 4" in problems[0]


# --- FULL_TRANSITIVE stays linear in the number of versions


def history_of(count: int) -> list[PastVersion]:
    """`count` versions, each adding an optional field: every pair is compatible both ways."""
    fields: list[dict[str, object]] = [{"name": "id", "type": "long"}]
    past = []
    for version in range(1, count + 1):
        fields.append({"name": f"f{version}", "type": ["null", "long"], "default": None})
        text = prepare(json.dumps({"type": "record", "name": "Big", "fields": fields})).text
        past.append(PastVersion(version, text, parse(text)))
    return past


@pytest.mark.parametrize("count", [1, 50, 200])
def test_full_transitive_work_is_linear_in_the_versions(count: int) -> None:
    """One check parses only the new schema and checks each version once per direction; a
    second check of the same schema parses nothing. Figures are printed, not asserted on time."""
    past = history_of(count)
    new = prepare(
        json.dumps(
            {
                "type": "record",
                "name": "Big",
                "fields": [
                    {"name": "id", "type": "long"},
                    {"name": f"z{count}", "type": "int", "default": 0},
                ],
            }
        )
    ).text
    COUNTS.clear()
    started = time.perf_counter()
    assert check(CompatibilityLevel.FULL_TRANSITIVE, new, past) == []
    elapsed = time.perf_counter() - started
    assert COUNTS["pairs"] == 2 * count
    assert COUNTS["parses"] <= 1
    COUNTS.clear()
    check(CompatibilityLevel.FULL_TRANSITIVE, new, past)
    assert COUNTS["parses"] == 0 and COUNTS["pairs"] == 2 * count
    print(
        f"FULL_TRANSITIVE over {count} versions: {2 * count} pair checks, {elapsed * 1000:.1f} ms"
    )
