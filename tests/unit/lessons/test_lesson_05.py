"""Lesson 5's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(5), "check")
Seen, check = check_module.Seen, check_module.check

OLD = [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]
NEW = [{"id": "c", "name": "C", "email": "c@x"}, {"id": "d", "name": "D", "email": "d@x"}]


def good() -> object:
    return Seen(
        level="BACKWARD",
        versions=[1, 2],
        ids=[7, 8],
        compatible_test=True,
        refused_status=409,
        ids_on_wire=[7, 7, 8, 8],
        old_reader=[*OLD, *({"id": r["id"], "name": r["name"]} for r in NEW)],
        new_reader=[*({**r, "email": None} for r in OLD), *NEW],
        produced_per_version=2,
        drop_name_compatible=True,
    )


def detail(seen: object, name: str) -> str:
    return next(c.detail for c in check(seen) if c.name == name)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_another_level_fails() -> None:
    seen = good()
    seen.level = "NONE"
    assert failing(check(seen)) == {"subject judged under BACKWARD"}
    assert detail(seen, "subject judged under BACKWARD") == (
        "the registry's /config says NONE, not BACKWARD"
    )


def test_a_subject_without_its_own_level_fails() -> None:
    seen = good()
    seen.level = None  # GET /config/<subject> answered 404: the pin never reached the registry
    assert failing(check(seen)) == {"subject judged under BACKWARD"}


def test_a_registry_that_refuses_what_backward_allows_fails() -> None:
    """FORWARD or FULL: a new reader without `name` is fine, an old reader of the new data not."""
    seen = good()
    seen.drop_name_compatible = False
    assert failing(check(seen)) == {"subject judged under BACKWARD"}
    assert detail(seen, "subject judged under BACKWARD").startswith(
        "the registry refused dropping `name`, which BACKWARD allows"
    )


def test_a_compatible_change_not_registered_fails() -> None:
    seen = good()
    seen.versions = [1]
    assert failing(check(seen)) == {"optional field accepted as version 2"}


def test_a_compatibility_test_that_said_no_fails() -> None:
    seen = good()
    seen.compatible_test = False
    assert failing(check(seen)) == {"optional field accepted as version 2"}


def test_an_accepted_incompatible_change_fails() -> None:
    seen = good()
    seen.refused_status = None
    assert failing(check(seen)) == {"incompatible change refused with 409"}


def test_a_refusal_for_another_reason_fails() -> None:
    seen = good()
    seen.refused_status = 422
    assert failing(check(seen)) == {"incompatible change refused with 409"}


def test_records_with_the_wrong_schema_id_fail() -> None:
    seen = good()
    seen.ids_on_wire = [7, 7, 7, 8]
    assert failing(check(seen)) == {"each record names its writer's schema id"}


def test_an_old_reader_that_sees_the_new_field_fails() -> None:
    seen = good()
    seen.old_reader[-1] = NEW[-1]
    assert failing(check(seen)) == {"old consumer reads new data"}


def test_an_old_reader_that_missed_records_fails() -> None:
    seen = good()
    seen.old_reader = seen.old_reader[:2]
    assert failing(check(seen)) == {"old consumer reads new data"}


def test_a_new_reader_without_the_default_fails() -> None:
    seen = good()
    seen.new_reader[0] = {**OLD[0], "email": "guessed@x"}
    assert failing(check(seen)) == {"new consumer reads old data (default filled in)"}
