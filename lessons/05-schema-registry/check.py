"""Lesson 5's check: the registry accepted the compatible change, refused the incompatible one
with 409, and readers on either schema version read every record."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect


@dataclass
class Seen:
    level: str | None  # the subject's level as GET /config/<subject> returns it
    versions: list[int]  # versions registered under the subject, in order
    ids: list[int]  # the schema id of v1 and v2
    compatible_test: bool | None  # the registry's answer to "is v2 compatible?" before registering
    refused_status: int | None  # HTTP status of the incompatible registration (None = accepted)
    ids_on_wire: list[int]  # schema id in each record's 5-byte prefix, in offset order
    old_reader: list[dict[str, object]] = field(default_factory=list)  # every record, read with v1
    new_reader: list[dict[str, object]] = field(default_factory=list)  # every record, read with v2
    produced_per_version: int = 0
    drop_name_compatible: bool | None = None  # the registry's answer to "v2 without `name`?"


def check(seen: Seen) -> list[Check]:
    n = seen.produced_per_version
    expected_wire = [seen.ids[0]] * n + [seen.ids[-1]] * n if len(seen.ids) == 2 else []
    old_fields = {frozenset(r) for r in seen.old_reader}
    defaulted = [r for r in seen.new_reader[:n] if r.get("email") is None]
    return [
        _backward(seen),
        expect(
            "optional field accepted as version 2",
            seen.compatible_test is True and seen.versions == [1, 2] and len(set(seen.ids)) == 2,
            f"compatible: {seen.compatible_test}, versions {seen.versions}, ids {seen.ids}",
        ),
        equal("incompatible change refused with 409", 409, seen.refused_status),
        expect(
            "each record names its writer's schema id",
            bool(expected_wire) and seen.ids_on_wire == expected_wire,
            f"ids on the wire {sorted(set(seen.ids_on_wire))} for {len(seen.ids_on_wire)} records",
        ),
        expect(
            "old consumer reads new data",
            len(seen.old_reader) == 2 * n > 0 and old_fields == {frozenset({"id", "name"})},
            f"{len(seen.old_reader)} of {2 * n} records read with v1, fields "
            f"{sorted(sorted(f) for f in old_fields)}",
        ),
        expect(
            "new consumer reads old data (default filled in)",
            len(seen.new_reader) == 2 * n > 0 and len(defaulted) == n,
            f"{len(seen.new_reader)} of {2 * n} read with v2; {len(defaulted)} v1 records got email=None",
        ),
    ]


def _backward(seen: Seen) -> Check:
    """The level the registry stored (read back over REST), and a change only BACKWARD (of the
    levels that refuse name: string → int) accepts: dropping a field without a default. New
    readers of old data just skip it; FORWARD and FULL refuse it, old readers would break."""
    name = "subject judged under BACKWARD"
    if seen.level != "BACKWARD":
        return expect(name, False, f"the registry's /config says {seen.level}, not BACKWARD")
    if seen.drop_name_compatible is not True:
        return expect(
            name,
            False,
            "the registry refused dropping `name`, which BACKWARD allows: it judges by "
            "another rule (FORWARD or FULL?)",
        )
    return expect(
        name,
        True,
        "GET /config says BACKWARD; dropping `name` judged compatible (FORWARD/FULL would refuse)",
    )
