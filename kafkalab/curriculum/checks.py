"""What a lesson's check returns: named expectations, each ✔ or ✘ with what was seen.

A check is a pure function of what the demo observed (a dataclass the lesson defines), so a
test can hand it a wrong observation and see ✘ without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def expect(name: str, ok: bool, detail: str) -> Check:
    return Check(name=name, ok=bool(ok), detail=detail)


def equal(name: str, expected: Any, seen: Any) -> Check:
    """✔ when `seen == expected`; the detail says both, so a ✘ explains itself."""
    if seen == expected:
        return Check(name=name, ok=True, detail=f"{seen}")
    return Check(name=name, ok=False, detail=f"expected {expected}, saw {seen}")


def passed(checks: list[Check]) -> bool:
    return bool(checks) and all(check.ok for check in checks)
