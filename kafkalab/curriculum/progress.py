"""What the learner has done per lesson, kept in the data dir between runs: the demo watched,
the exercise passed, the break seen, predictions right, hints taken.

Watching the demo and passing the exercise are recorded apart: a ✔ demo proves kafkalab works,
a ✔ exercise proves the learner did the thing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafkalab.settings import Settings

NOT_STARTED = "not started"
PASSED = "passed"
FAILED = "failed"


@dataclass(frozen=True)
class Attempt:
    status: str
    at: str
    seconds: float


@dataclass(frozen=True)
class LessonProgress:
    demo: Attempt | None = None
    exercise: Attempt | None = None
    predicted: int = 0
    """Questions answered, over every run."""
    predicted_right: int = 0
    hints: int = 0
    """How many of the graded hints the learner has seen."""
    broke: str | None = None
    """When the learner last broke the exercise on purpose and saw the failure it causes
    (`kafkalab lesson N --break`); None: not yet. A file from before breaks has none."""


def _path(settings: Settings) -> Path:
    return settings.data_dir / "lessons" / "progress.json"


def _attempt(raw: dict[str, Any] | None) -> Attempt | None:
    return Attempt(**raw) if raw else None


def _entry(raw: dict[str, Any]) -> LessonProgress:
    if "status" in raw:  # the file before exercises existed: one attempt, the demo's
        return LessonProgress(demo=_attempt(raw))
    return LessonProgress(
        demo=_attempt(raw.get("demo")),
        exercise=_attempt(raw.get("exercise")),
        predicted=int(raw.get("predicted", 0)),
        predicted_right=int(raw.get("predicted_right", 0)),
        hints=int(raw.get("hints", 0)),
        broke=str(raw["broke"]) if raw.get("broke") else None,
    )


def load(settings: Settings) -> dict[int, LessonProgress]:
    try:
        raw = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    try:
        return {int(number): _entry(entry) for number, entry in raw.items()}
    except (TypeError, ValueError):
        return {}  # a hand-edited file that no longer parses starts over rather than crash


def _save(settings: Settings, every: dict[int, LessonProgress]) -> None:
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({str(n): asdict(p) for n, p in sorted(every.items())}, indent=2))
    tmp.replace(path)


def _update(settings: Settings, number: int, **changes: Any) -> LessonProgress:
    every = load(settings)
    updated = replace(every.get(number, LessonProgress()), **changes)
    every[number] = updated
    _save(settings, every)
    return updated


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _now(ok: bool, seconds: float) -> Attempt:
    return Attempt(status=PASSED if ok else FAILED, at=_stamp(), seconds=round(seconds, 1))


def record(settings: Settings, number: int, ok: bool, seconds: float) -> None:
    """The demo's run."""
    _update(settings, number, demo=_now(ok, seconds))


def record_exercise(settings: Settings, number: int, ok: bool, seconds: float) -> None:
    _update(settings, number, exercise=_now(ok, seconds))


def record_break(settings: Settings, number: int) -> None:
    """The break showed its failure. A break that did not show leaves the mark as it was, and
    neither touches the exercise's own status: the learner's pass stands."""
    _update(settings, number, broke=_stamp())


def broke(every: dict[int, LessonProgress], number: int) -> bool:
    return every.get(number, LessonProgress()).broke is not None


def record_predictions(settings: Settings, number: int, asked: int, right: int) -> None:
    current = load(settings).get(number, LessonProgress())
    _update(
        settings,
        number,
        predicted=current.predicted + asked,
        predicted_right=current.predicted_right + right,
    )


def take_hint(settings: Settings, number: int, available: int) -> int:
    """The index of the next hint to show (the last one again once all were seen)."""
    current = load(settings).get(number, LessonProgress())
    index = min(current.hints, available - 1)
    _update(settings, number, hints=min(current.hints + 1, available))
    return index


def hints_seen(settings: Settings, number: int) -> int:
    return load(settings).get(number, LessonProgress()).hints


def status(every: dict[int, LessonProgress], number: int) -> str:
    """The demo's status."""
    attempt = every.get(number, LessonProgress()).demo
    return attempt.status if attempt else NOT_STARTED


def exercise_status(every: dict[int, LessonProgress], number: int) -> str:
    attempt = every.get(number, LessonProgress()).exercise
    return attempt.status if attempt else NOT_STARTED
