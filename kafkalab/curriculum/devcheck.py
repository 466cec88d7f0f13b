"""`kafkalab dev check`: is every lesson folder complete and consistent with lessons.toml?

Each problem is one sentence that says how to fix it, so adding lesson 21 is guided.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from kafkalab.curriculum import chapter, workspace
from kafkalab.curriculum.manifest import LESSONS_DIR, PARTS, Lesson
from kafkalab.settings import Settings

EXPLAIN_LINES = (60, 150)
MAIN_WORDS = (500, 700)
REQUIRED = {"demo.py": "demo", "check.py": "check"}
EXERCISE_REQUIRED = {"grade.py": ("prepare", "grade")}
HINTS = (2, 3)


@dataclass(frozen=True)
class Problem:
    lesson: str
    problem: str


def check_all(lessons: list[Lesson]) -> list[Problem]:
    problems: list[Problem] = []
    numbers = [lesson.number for lesson in lessons]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(
            Problem(
                "lessons.toml",
                f"numbers must run 1..{len(numbers)} without gaps or repeats; found {numbers}",
            )
        )
    known = {lesson.directory.name for lesson in lessons}
    for folder in sorted(
        p for p in LESSONS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    ):
        if folder.name not in known:
            problems.append(
                Problem(
                    folder.name,
                    "folder is not in lessons.toml: add a [[lesson]] stanza for it or remove it",
                )
            )
    for lesson in lessons:
        problems.extend(check_lesson(lesson))
    return problems


def check_lesson(lesson: Lesson) -> list[Problem]:
    label = lesson.directory.name
    found: list[Problem] = []
    if lesson.part not in PARTS:
        found.append(Problem(label, f"part '{lesson.part}' is not one of {', '.join(PARTS)}"))
    if not lesson.hint:
        found.append(Problem(label, 'has no hint in lessons.toml: add hint = "…"'))
    if not lesson.directory.is_dir():
        return [
            *found,
            Problem(
                label,
                f"folder {lesson.directory} is missing: create it with explain.md, demo.py, check.py",
            ),
        ]
    explain = lesson.directory / "explain.md"
    if not explain.is_file():
        found.append(Problem(label, "explain.md is missing: write the lesson text there"))
    else:
        text = explain.read_text()
        lines = len(text.splitlines())
        low, high = EXPLAIN_LINES
        if not low <= lines <= high:
            found.append(
                Problem(label, f"explain.md has {lines} lines; keep it between {low} and {high}")
            )
        found += _understanding(label, text)
        found += _main_part(label, lesson.number, text)
        for setting in lesson.settings:
            if setting not in text:
                found.append(
                    Problem(
                        label,
                        f"explain.md does not mention the setting `{setting}` that lessons.toml lists",
                    )
                )
    for filename, function in REQUIRED.items():
        path = lesson.directory / filename
        if not path.is_file():
            found.append(Problem(label, f"{filename} is missing: it must define {function}()"))
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        if function not in names:
            found.append(Problem(label, f"{filename} does not define {function}()"))
    return found + check_exercise(lesson)


UNDERSTANDING = chapter.UNDERSTANDING
ANSWERS = chapter.ANSWERS


def _numbered(block: str) -> list[str]:
    return [line for line in block.splitlines() if re.match(r"\d+\. ", line)]


def _understanding(label: str, text: str) -> list[Problem]:
    """The chapter ends with three questions that apply it, then their answers."""
    if UNDERSTANDING not in text:
        return [Problem(label, f"explain.md has no `{UNDERSTANDING}` section at its end")]
    section = text.split(UNDERSTANDING, 1)[1]
    questions, _, answers = section.partition(ANSWERS)
    if len(_numbered(questions)) != 3 or len(_numbered(answers)) != 3:
        return [
            Problem(
                label,
                f"`{UNDERSTANDING}` needs 3 numbered questions, then `{ANSWERS}` with 3 answers",
            )
        ]
    return []


def _main_part(label: str, number: int, text: str) -> list[Problem]:
    """The main part (top to `## More`) is read in one sitting: 500–700 words of prose. The
    More section, when there is one, stands between it and the questions."""
    if chapter.more_after_questions(text):
        return [
            Problem(
                label,
                f"explain.md's `{chapter.MORE}` stands after `{UNDERSTANDING}`: move it before",
            )
        ]
    parts = chapter.split(text)
    words = chapter.prose_words(parts.main)
    low, high = MAIN_WORDS
    if low <= words <= high:
        return []
    end = chapter.MORE if parts.more else UNDERSTANDING
    advice = (
        f"move detail under `{chapter.MORE}`"
        if words > high
        else "say more of what the exercise and demo need there"
    )
    return [
        Problem(
            label,
            f"explain.md's main part (top to `{end}`) has {words} words of prose outside code; "
            f"keep it between {low} and {high}: {advice}",
        )
    ]


def check_exercise(lesson: Lesson) -> list[Problem]:
    """An exercise is exercise.py (TODOs, a Goal), solution.py, grade.py and its stanza."""
    label = lesson.directory.name
    exercise = lesson.directory / workspace.EXERCISE
    info = lesson.exercise
    if info is None:
        if exercise.is_file():
            return [
                Problem(label, "has exercise.py but no [lesson.exercise] stanza in lessons.toml")
            ]
        return []
    found: list[Problem] = []
    for path in (exercise, lesson.directory / workspace.SOLUTION):
        if not path.is_file():
            found.append(Problem(label, f"{path.name} is missing: [lesson.exercise] needs it"))
    if exercise.is_file():
        text = exercise.read_text()
        if "TODO" not in text:
            found.append(Problem(label, "exercise.py has no `# TODO` where the learner works"))
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if "Goal:" not in docstring:
            found.append(Problem(label, "exercise.py's docstring does not state its Goal:"))
    for filename, functions in EXERCISE_REQUIRED.items():
        path = lesson.directory / filename
        if not path.is_file():
            found.append(
                Problem(label, f"{filename} is missing: it must define prepare() and grade()")
            )
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        found += [
            Problem(label, f"{filename} does not define {name}()")
            for name in functions
            if name not in names
        ]
    low, high = HINTS
    if not low <= len(info.hints) <= high:
        found.append(
            Problem(
                label, f"the exercise has {len(info.hints)} hints; give {low} or {high}, graded"
            )
        )
    keys = [q.key for q in info.questions]
    if len(info.questions) > 3 or len(set(keys)) != len(keys):
        found.append(Problem(label, "ask at most 3 prediction questions, each with its own key"))
    return found + check_break(lesson)


def check_break(lesson: Lesson) -> list[Problem]:
    """A break is a stanza on top of a working exercise: the flip must tell the reference
    solution (not broken) from a broken file, and a command must be one a break can wait for."""
    from kafkalab.chaos import journal
    from kafkalab.curriculum.breaks import flipped

    label = lesson.directory.name
    info = lesson.breaking
    if info is None:
        return []
    solution = lesson.directory / workspace.SOLUTION
    if lesson.exercise is None or not solution.is_file():
        return [Problem(label, "has a [lesson.break] but no exercise and solution to break")]
    found: list[Problem] = []
    if (info.flip or info.remove) and flipped(info, solution.read_text()):
        found.append(
            Problem(
                label,
                "solution.py already matches [lesson.break]'s flip/remove: the break could not "
                "tell a broken file from a working one",
            )
        )
    if info.command:
        try:
            journal.parse(info.command)
        except ValueError as exc:
            found.append(Problem(label, f"[lesson.break] command: {exc}"))
    keys = [q.key for q in info.questions]
    if not 1 <= len(keys) <= 3 or len(set(keys)) != len(keys):
        found.append(
            Problem(label, "a break asks 1 to 3 prediction questions, each with its own key")
        )
    return found


def run_all(
    settings: Settings, lessons: list[Lesson], notify: Callable[[str], None]
) -> list[Problem]:
    """Each exercise on the real cluster: untouched it must ✘, its solution must ✔."""
    from kafkalab.curriculum import exercises

    found: list[Problem] = []
    for lesson in lessons:
        if not workspace.has_exercise(lesson):
            continue
        label = lesson.directory.name
        notify(f"lesson {lesson.number}: the untouched exercise must fail")
        untouched = exercises.run(
            settings, lesson, workspace.pristine(lesson), quiet=True, record=False
        )
        if untouched.passed:
            found.append(Problem(label, "the untouched exercise.py passes: its grader cannot fail"))
        notify(f"lesson {lesson.number}: the reference solution must pass")
        solved = exercises.run(
            settings, lesson, workspace.solution(lesson), quiet=True, record=False
        )
        if not solved.passed:
            first = next(c for c in solved.checks if c.ok is False)
            found.append(Problem(label, f"solution.py fails: {first.name}: {first.detail}"))
    return found
