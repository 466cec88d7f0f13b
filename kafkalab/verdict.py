"""The one pass/fail type: a named check, ✔ held, ✘ failed or ! could not be judged.

Lesson checks, scenario expectations, the smoke round trip, `kafkalab doctor` and the invariant
checker all end in a list of these, and `kafkalab.ui.verdict` renders any of them. A check is
plain data, so tests assert on it rather than on coloured text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

Outcome = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One claim and what was seen.

    `ok` is None when the claim could not be judged (no analytics results yet, a cluster that
    is simply not started): shown as `!`, said out loud in `detail`, and not a failure.
    `fix` says how to mend a ✘ or a ! where there is something to do.
    """

    name: str
    ok: bool | None
    detail: str = ""
    fix: str = ""

    @property
    def outcome(self) -> Outcome:
        """ok / warn / fail: `ok` as a word, the way `kafkalab doctor --json` says it."""
        if self.ok is None:
            return "warn"
        return "ok" if self.ok else "fail"

    def to_jsonable(self) -> dict[str, Any]:
        """Every field, but `fix` only when there is one: most checks have nothing to mend."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if not self.fix:
            del data["fix"]
        return data


def expect(name: str, ok: bool, detail: str) -> Check:
    """✔ when `ok` is true (any truthy value: `bool()` of it is kept)."""
    return Check(name=name, ok=bool(ok), detail=detail)


def equal(name: str, expected: Any, seen: Any) -> Check:
    """✔ when `seen == expected`; the detail says both, so a ✘ explains itself."""
    if seen == expected:
        return Check(name=name, ok=True, detail=f"{seen}")
    return Check(name=name, ok=False, detail=f"expected {expected}, saw {seen}")


def passed(checks: Sequence[Check]) -> bool:
    """No check failed, and there was at least one: an empty verdict proves nothing. A check
    that could not be judged (`ok` None) is not a failure."""
    return bool(checks) and all(check.ok is not False for check in checks)
