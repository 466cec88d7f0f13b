"""Where the course material is: the top-level `lessons/` and `scenarios/` folders.

They are data, not code, so they live beside the package in a checkout (where a learner edits
them) and are copied into the wheel as `kafkalab/_bundled/` (pyproject's force-include), so a
`pip install kafkalab` user has them too. The code that runs them stays in the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _folder(name: str) -> Path:
    bundled = _PACKAGE / "_bundled" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name


def lessons_dir() -> Path:
    """`lessons/`: lessons.toml and one folder per lesson."""
    return _folder("lessons")


def scenarios_dir() -> Path:
    """`scenarios/`: the built-in TOML scenarios."""
    return _folder("scenarios")
