"""Break it on purpose: `kafkalab lesson N --break`.

Where a lesson is about a failure, the learner pulls the trigger: they flip one setting in
their (working) exercise.py, or type one `kafkalab chaos …` command while kafkalab watches,
predict what it will cost, and see it happen on the real cluster. The lesson's `[lesson.break]`
stanza says what to do and which check must ✘; the grader (grade.py's `grade_break`, else
`grade`) measures the damage, and its truths answer the break's questions.

A break *shows* when its named check fails: the failure is the point of the exercise, so that
is a success (exit 0), recorded as a "broke" mark in progress. The exercise's own result is
never touched.
"""

from __future__ import annotations

import io
import re
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkalab.chaos import journal
from kafkalab.curriculum import exercises, predictions, progress
from kafkalab.curriculum.exercises import ExerciseResult, Program, ProgramFailed
from kafkalab.curriculum.lab import Armed, Lab
from kafkalab.curriculum.manifest import BreakInfo, Lesson
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.settings import Settings
from kafkalab.verdict import Check


class NotBroken(KafkalabError):
    """The learner's file does not carry the break yet (or has no break to carry)."""


def info_of(lesson: Lesson) -> BreakInfo:
    if lesson.breaking is None:
        raise InvalidChoice(
            f"lesson {lesson.number} has no break to try",
            hint="`kafkalab lessons` marks the lessons that have one in its break column",
        )
    return lesson.breaking


def code_of(text: str) -> str:
    """The program with its comments and module docstring blanked out: a flip that is only
    mentioned, or commented out, is not a flip. A file that does not tokenize is taken as is."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING, tokenize.COMMENT}
    first = next((t for t in tokens if t.type not in skip), None)
    blank = [t for t in tokens if t.type == tokenize.COMMENT]
    if first is not None and first.type == tokenize.STRING:
        blank.append(first)  # the module docstring
    lines = text.splitlines(keepends=True)
    for token in blank:
        (row, col), (end_row, end_col) = token.start, token.end
        for n in range(row, end_row + 1):
            line = lines[n - 1]
            start = col if n == row else 0
            stop = end_col if n == end_row else len(line.rstrip("\n"))
            lines[n - 1] = line[:start] + " " * (stop - start) + line[stop:]
    return "".join(lines)


def flipped(info: BreakInfo, text: str) -> bool:
    """The file carries the break: `flip` matches its code and `remove` no longer does."""
    code = code_of(text)
    if info.flip and not re.search(info.flip, code, re.MULTILINE):
        return False
    return not (info.remove and re.search(info.remove, code, re.MULTILINE))


def require_flip(lesson: Lesson, file: Path) -> None:
    """One sentence saying what to flip and where, when `file` does not carry the break."""
    info = info_of(lesson)
    if not (info.flip or info.remove):
        return  # a command break: the learner acts while the grader watches
    if not file.is_file():
        raise NotBroken(
            f"the exercise file {file} is missing",
            hint=f"`kafkalab lesson {lesson.number} --reset` puts it back",
        )
    if not flipped(info, file.read_text()):
        raise NotBroken(
            f"{file} does not carry lesson {lesson.number}'s break yet: {info.do}",
            hint=f"make that one change, save, and run `kafkalab lesson {lesson.number} "
            "--break` again",
        )


def await_command(lab: Lab, timeout: float | None = None) -> journal.Entry:
    """For a grader whose break is a typed command: wait until the learner has typed it (as
    `kafkalab chaos` notes it in the learner's data dir) and return what they typed. Asks for
    it out loud first, and leaves a note that it waits (tests and tools can see what for).
    ProgramFailed (a ✘ that says so) when it does not come in time."""
    armed = lab.breaking
    if armed is None or not armed.info.command:
        raise KafkalabError(f"lesson {lab.lesson.number}'s break names no command to wait for")
    wanted = journal.parse(armed.info.command)
    limit = armed.info.wait if timeout is None else timeout
    lab.say(f"now type `{armed.info.command}` in a second terminal — kafkalab is watching")
    note = journal.awaited_path(armed.home)
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(armed.info.command + "\n")
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for seen in journal.since(armed.home, armed.since):
                if journal.matches(wanted, seen):
                    return seen
            time.sleep(0.2)
    finally:
        note.unlink(missing_ok=True)
    raise ProgramFailed(
        Check(
            "you typed the break's command",
            False,
            f"no `{armed.info.command}` within {limit:.0f} s",
            fix=f"type it in a second terminal while `kafkalab lesson {lab.lesson.number} "
            "--break` waits (same KAFKALAB_DATA_DIR)",
        )
    )


@dataclass
class BreakResult:
    """What the break did: `broke` when its named check failed in a run that got that far."""

    number: int
    title: str
    file: Path
    broke: bool
    failed: Check | None
    """The named check as the run judged it (None: the run never reached it)."""
    also: list[Check]
    """Other checks that failed and the stanza does not expect: not the break's doing (the
    file did not pass before it was broken)."""
    shows: str
    undo: str
    checks: list[Check]
    predictions: list[predictions.Scored]
    truths: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""


def shows(info: BreakInfo, truths: dict[str, Any]) -> str:
    """The stanza's sentence with `{key}`s filled from the run's truths (a key the run did not
    compute stays as it is)."""

    class Known(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return info.shows.format_map(Known(truths))
    except (ValueError, IndexError, AttributeError):
        return info.shows


def judge(lesson: Lesson, result: ExerciseResult) -> BreakResult:
    info = info_of(lesson)
    named = next((c for c in result.checks if c.name == info.fails), None)
    crashed = result.checks[0].ok is False and result.checks[0].name == Program.RAN
    broke = named is not None and named.ok is False and not crashed
    truths = {s.question.key: s.truth for s in result.predictions if s.truth is not None}
    return BreakResult(
        number=lesson.number,
        title=lesson.title,
        file=result.file,
        broke=broke,
        failed=named,
        also=[
            c
            for c in result.checks
            if c.ok is False and c is not named and c.name not in info.also and not crashed
        ],
        shows=shows(info, {**result.truths, **truths}),
        undo=info.undo,
        checks=result.checks,
        predictions=result.predictions,
        truths=dict(result.truths),
        seconds=result.seconds,
        output=result.output,
    )


def run(
    settings: Settings,
    lesson: Lesson,
    file: Path,
    quiet: bool = False,
    answers: list[str] | None = None,
    shared: Any = None,
    record: bool = True,
) -> BreakResult:
    """Check the flip is in `file`, run it through the lesson's grader as a break, judge it,
    and (when `record`) mark the lesson broken and count the predictions."""
    info = info_of(lesson)
    require_flip(lesson, file)
    armed = Armed(info=info, home=settings, since=time.time())
    result = exercises.run(
        settings,
        lesson,
        file,
        quiet=quiet,
        answers=answers,
        shared=shared,
        record=False,
        breaking=armed,
    )
    judged = judge(lesson, result)
    if record:
        if judged.broke:
            progress.record_break(settings, lesson.number)
        asked = [s for s in judged.predictions if s.right is not None]
        if asked:
            progress.record_predictions(
                settings, lesson.number, len(asked), sum(1 for s in asked if s.right)
            )
    return judged
