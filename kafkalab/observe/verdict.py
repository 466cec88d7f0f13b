"""The verdict every run ends with: named expectations, each ✔ or ✘ with what was observed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Expectation:
    name: str
    ok: bool
    detail: str


def all_passed(checks: list[Expectation]) -> bool:
    return bool(checks) and all(check.ok for check in checks)
