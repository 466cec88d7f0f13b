"""What the lesson check tests share."""

from __future__ import annotations

from collections.abc import Iterable

from kafkalab.verdict import Check


def failing(checks: Iterable[Check]) -> set[str]:
    """The names of the checks that are not ✔: a test breaks one thing in a good observation
    and asserts that exactly that check (or at least it) stops holding."""
    return {c.name for c in checks if not c.ok}
