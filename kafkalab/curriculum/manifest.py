"""`lessons.toml` as typed data: the ordered list of lessons and where each one lives."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafkalab import content
from kafkalab.errors import InvalidChoice, KafkalabError

LESSONS_DIR = content.lessons_dir()
MANIFEST = LESSONS_DIR / "lessons.toml"

PARTS = {
    "foundation": "Foundation",
    "resilience": "Resilient messaging",
    "streams": "Stream processing",
    "production": "Production",
}


class ManifestError(KafkalabError):
    hint = "run `kafkalab dev check` to see what is wrong with the lessons folder"


@dataclass(frozen=True)
class Question:
    """One predict-then-observe question, asked before the exercise runs.

    `choices` empty: the answer is a whole number. `why` is the one sentence said after a wrong
    prediction. The truth is never written here: the lesson's grade.py computes it from the run.
    """

    key: str
    ask: str
    choices: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class ExerciseInfo:
    """`[lesson.exercise]`: the graded hints (what the ✘ means → a question pointing at the
    line → the shape of the fix), how long the learner's program may run, the questions."""

    hints: tuple[str, ...]
    timeout: float
    questions: tuple[Question, ...]
    needs: tuple[str, ...] = ("cluster",)


@dataclass(frozen=True)
class BreakInfo:
    """`[lesson.break]`: the learner breaks their working exercise on purpose and predicts what
    the failure will cost (`kafkalab lesson N --break`).

    `do` is the one instruction (the setting to flip in exercise.py, or the command to type in a
    second terminal). kafkalab recognises the flip in the learner's file (comments and the
    docstring left out): `flip` must match it, `remove` must no longer match it; `command` is a
    `kafkalab chaos …` line the lesson's grader waits for while it watches. `fails` names the
    check that must ✘ for the break to show, `also` the checks the same break fails on its way;
    `shows` is the sentence that says what the failure teaches (`{key}` is filled from the run's
    truths); `undo` says how to put it back.
    """

    do: str
    fails: str
    shows: str
    undo: str
    questions: tuple[Question, ...] = ()
    also: tuple[str, ...] = ()
    flip: str = ""
    remove: str = ""
    command: str = ""
    wait: float = 120.0
    """How long a `command` break waits for the learner to type it (s)."""


@dataclass(frozen=True)
class Lesson:
    """One stanza of lessons.toml.

    `settings` are the real Kafka/client config names the lesson teaches: the explain text must
    mention each one (checked by `kafkalab dev check` and the tests).
    `needs` says what the demo starts: "cluster" (the broker and registry), "platform" (the six
    services too), "secure", "brokers3".
    """

    number: int
    slug: str
    title: str
    part: str
    hint: str
    settings: tuple[str, ...]
    needs: tuple[str, ...]
    slow: bool
    exercise: ExerciseInfo | None = None
    breaking: BreakInfo | None = None
    """`[lesson.break]` (`break` is a Python keyword)."""

    @property
    def directory(self) -> Path:
        return LESSONS_DIR / f"{self.number:02d}-{self.slug}"

    @property
    def label(self) -> str:
        return f"{self.number:2d}. {self.title}"


def load(path: Path = MANIFEST) -> list[Lesson]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read the lessons manifest {path}: {exc}") from exc
    lessons = []
    for entry in raw.get("lesson", []):
        try:
            lessons.append(
                Lesson(
                    number=int(entry["number"]),
                    slug=str(entry["slug"]),
                    title=str(entry["title"]),
                    part=str(entry["part"]),
                    hint=str(entry.get("hint", "")).strip(),
                    settings=tuple(entry.get("settings", [])),
                    needs=tuple(entry.get("needs", ["cluster"])),
                    slow=bool(entry.get("slow", False)),
                    exercise=_exercise(entry.get("exercise")),
                    breaking=_break(entry.get("break"), int(entry["number"])),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ManifestError(f"lessons.toml has a lesson stanza without a valid {exc}") from exc
    return sorted(lessons, key=lambda lesson: lesson.number)


def _questions(raw: dict[str, Any]) -> tuple[Question, ...]:
    return tuple(
        Question(
            key=str(q["key"]),
            ask=str(q["ask"]),
            choices=tuple(str(c) for c in q.get("choices", [])),
            why=str(q.get("why", "")),
        )
        for q in raw.get("predict", [])
    )


def _exercise(raw: dict[str, Any] | None) -> ExerciseInfo | None:
    if raw is None:
        return None
    return ExerciseInfo(
        hints=tuple(str(h).strip() for h in raw.get("hints", [])),
        timeout=float(raw.get("timeout", 60)),
        questions=_questions(raw),
        needs=tuple(raw.get("needs", ["cluster"])),
    )


def _break(raw: dict[str, Any] | None, number: int) -> BreakInfo | None:
    """`[lesson.break]`, checked here so that a broken stanza is one sentence, not a crash in
    the middle of a learner's run."""
    if raw is None:
        return None
    for key in ("flip", "remove"):
        try:
            re.compile(str(raw.get(key, "")), re.MULTILINE)
        except re.error as exc:
            raise ManifestError(
                f"lesson {number}'s [lesson.break] {key} is not a valid regular expression: {exc}"
            ) from exc
    info = BreakInfo(
        do=" ".join(str(raw["do"]).split()),
        fails=str(raw["fails"]).strip(),
        shows=" ".join(str(raw["shows"]).split()),
        undo=" ".join(str(raw["undo"]).split()),
        questions=_questions(raw),
        also=tuple(str(name) for name in raw.get("also", [])),
        flip=str(raw.get("flip", "")),
        remove=str(raw.get("remove", "")),
        command=" ".join(str(raw.get("command", "")).split()),
        wait=float(raw.get("wait", 120)),
    )
    if not (info.flip or info.remove or info.command):
        raise ManifestError(
            f"lesson {number}'s [lesson.break] says neither how to recognise the flip (flip, "
            "remove) nor the command to type (command)"
        )
    return info


def find(number: int, lessons: list[Lesson] | None = None) -> Lesson:
    lessons = load() if lessons is None else lessons
    for lesson in lessons:
        if lesson.number == number:
            return lesson
    first, last = lessons[0].number, lessons[-1].number
    raise InvalidChoice(
        f"there is no lesson {number}; the lessons are numbered {first}–{last}",
        hint="`kafkalab lessons` lists them",
    )
