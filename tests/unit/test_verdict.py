"""The one pass/fail type: what counts as passed, its JSON, and the one table that renders it."""

from __future__ import annotations

import pytest

from kafkalab import ui
from kafkalab.doctor import DoctorReport
from kafkalab.observe.verify import Invariant
from kafkalab.verdict import Check, equal, expect, passed


def test_a_check_that_could_not_be_judged_is_not_a_failure() -> None:
    assert passed([Check("a", True), Check("b", None, "no results yet")])
    assert not passed([Check("a", True), Check("b", False)])


def test_an_empty_verdict_proves_nothing() -> None:
    assert not passed([])


def test_expect_and_equal_say_what_they_saw() -> None:
    assert expect("some", [1], "one item").ok is True
    assert equal("count", 3, 3) == Check("count", True, "3")
    assert equal("count", 3, 2) == Check("count", False, "expected 3, saw 2")


def test_outcome_is_ok_as_a_word() -> None:
    assert [Check("x", ok).outcome for ok in (True, None, False)] == ["ok", "warn", "fail"]


def test_json_carries_a_fix_only_where_there_is_one() -> None:
    assert ui.to_jsonable(Check("a", True, "fine")) == {"name": "a", "ok": True, "detail": "fine"}
    assert ui.to_jsonable(Check("b", None, "not running", "start it")) == {
        "name": "b",
        "ok": None,
        "detail": "not running",
        "fix": "start it",
    }


def test_an_invariant_is_a_check_with_its_counts() -> None:
    inv = Invariant(name="i", ok=False, detail="rule", checked=3, violations=1, examples=["o: x"])
    assert passed([inv]) is False
    assert set(ui.to_jsonable(inv)) == {"name", "ok", "checked", "violations", "examples", "detail"}


def test_doctor_json_keeps_outcome_and_fix_on_every_check() -> None:
    report = DoctorReport([Check("java", True, "17"), Check("cluster", None, "down", "up")], {})
    data = ui.to_jsonable(report)
    assert data["healthy"] is True
    assert data["checks"] == [
        {"name": "java", "ok": True, "outcome": "ok", "detail": "17", "fix": ""},
        {"name": "cluster", "ok": None, "outcome": "warn", "detail": "down", "fix": "up"},
    ]


def test_the_table_marks_each_check_and_adds_fixes_only_when_there_are_some(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = ui.console()
    monkeypatch.setattr(ui, "out", out)
    with out.capture() as captured:
        ui.verdict([Check("held", True, "seen"), Check("broke", False, "not seen")])
        ui.verdict([Check("later", None, "not yet", "wait")], "doctor")
    first, second = captured.get().split("doctor")
    assert "✔" in first and "✘" in first and "!" in second
    assert "fix" not in first and "fix" in second and "wait" in second
