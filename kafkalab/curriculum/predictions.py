"""Predict, then observe: the learner's answers beside what the broker showed in the same run.

The questions live in lessons.toml; the truths come from the lesson's grade.py, computed from
the run — never written down in advance, so a run that behaves differently is scored by what it
really did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkalab.curriculum.manifest import Question
from kafkalab.errors import InvalidChoice


@dataclass(frozen=True)
class Scored:
    question: Question
    answer: str | None
    """None: not asked (`--no-predict`, or no terminal to ask on)."""
    truth: str | None
    """None: this run could not show it (the program failed before)."""
    right: bool | None


def choices_text(question: Question) -> str:
    return "  ".join(
        f"{letter}) {c}" for letter, c in zip("abcdefgh", question.choices, strict=False)
    )


def normalise(question: Question, raw: str) -> str:
    """A choice by letter, number or text → its text; a number → its canonical digits."""
    text = raw.strip()
    if question.choices:
        letters = "abcdefgh"[: len(question.choices)]
        if len(text) == 1 and text.lower() in letters:
            return question.choices[letters.index(text.lower())]
        if text.isdigit() and 1 <= int(text) <= len(question.choices):
            return question.choices[int(text) - 1]
        for choice in question.choices:
            if choice.lower() == text.lower():
                return choice
        raise InvalidChoice(
            f"'{raw}' is not one of the choices for “{question.ask}”: {choices_text(question)}",
            hint="answer with the letter of a choice",
        )
    try:
        return str(int(text))
    except ValueError:
        raise InvalidChoice(
            f"'{raw}' is not a whole number, and “{question.ask}” asks for one",
            hint="answer with digits, e.g. 12",
        ) from None


def parse(questions: Sequence[Question], given: str) -> list[str]:
    """`--predict 3,12`: one answer per question, in the lesson's order."""
    parts = [p for p in given.split(",")] if given.strip() else []
    if len(parts) != len(questions):
        raise InvalidChoice(
            f"this lesson asks {len(questions)} question(s) and --predict gave {len(parts)} "
            "answer(s)",
            hint="give one answer per question, separated by commas, in the order the lesson "
            "asks them (run it in a terminal without --predict to see the questions)",
        )
    return [normalise(q, p) for q, p in zip(questions, parts, strict=True)]


def score(
    questions: Sequence[Question], answers: Sequence[str] | None, truths: dict[str, Any]
) -> list[Scored]:
    out = []
    for index, question in enumerate(questions):
        answer = answers[index] if answers is not None and index < len(answers) else None
        raw = truths.get(question.key)
        truth = None if raw is None else normalise(question, str(raw))
        right = None if answer is None or truth is None else answer == truth
        out.append(Scored(question, answer, truth, right))
    return out
