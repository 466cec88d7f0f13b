"""The shipped Avro schemas may only change in ways a registry at BACKWARD (the default) takes,
so a data dir that registered an older version keeps working after an upgrade."""

from __future__ import annotations

import json

from kafkalab.cluster.registry import compatibility
from kafkalab.cluster.registry.compatibility import CompatibilityLevel, PastVersion
from kafkalab.events.schemas import schema_text

# UserProfile before it carried preferences (issue 13), as a registry holds it today.
USER_PROFILE_V1 = {
    "type": "record",
    "name": "UserProfile",
    "namespace": "dev.kafkalab.events",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "email", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "phone", "type": ["null", "string"], "default": None},
        {"name": "balance_cents", "type": "long"},
        {
            "name": "registered_at",
            "type": {"type": "long", "logicalType": "timestamp-millis"},
        },
    ],
}


def test_user_profile_with_preferences_is_backward_compatible_both_ways() -> None:
    old = [PastVersion(1, json.dumps(USER_PROFILE_V1))]
    new = schema_text("UserProfile")
    for level in (CompatibilityLevel.BACKWARD, CompatibilityLevel.FULL_TRANSITIVE):
        assert compatibility.check(level, new, old) == [], level


def test_preferences_are_the_same_record_in_the_event_and_in_the_profile() -> None:
    event = json.loads(schema_text("UserPreferencesUpdated"))
    profile = json.loads(schema_text("UserProfile"))
    [in_event] = [f["type"] for f in event["fields"] if f["name"] == "preferences"]
    [in_profile] = [f["type"] for f in profile["fields"] if f["name"] == "preferences"]
    assert in_profile == ["null", in_event]
    compatibility.prepare(schema_text("UserPreferencesUpdated"), new=True)  # defaults valid
    compatibility.prepare(schema_text("UserProfile"), new=True)


def _without_docs(schema: dict) -> dict:
    fields = [{k: v for k, v in f.items() if k != "doc"} for f in schema["fields"]]
    return {**{k: v for k, v in schema.items() if k != "doc"}, "fields": fields}


def test_the_catalogue_s_refund_record_is_the_one_lesson_22_writes() -> None:
    """RefundIssued is defined by lesson 22's skeleton, which the learner registers; the
    catalogue's copy (what `kafkalab verify` reads refunds as) must not drift from it."""
    import ast

    from kafkalab.content import lessons_dir

    catalogue = _without_docs(json.loads(schema_text("RefundIssued")))
    for name in ("exercise.py", "solution.py"):
        tree = ast.parse((lessons_dir() / "22-capstone-refunds" / name).read_text())
        (text,) = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "REFUND_SCHEMA" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        assert json.loads(text) == catalogue, name


def test_stock_returned_and_refund_issued_are_valid_new_schemas() -> None:
    for name in ("StockReturned", "RefundIssued"):
        compatibility.prepare(schema_text(name), new=True)
