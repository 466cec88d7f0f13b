"""`kafkalab dev check`: is every lesson folder complete and consistent with lessons.toml?

Each problem is one sentence that says how to fix it, so adding lesson 21 is guided.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from kafkalab.curriculum.manifest import LESSONS_DIR, PARTS, Lesson

EXPLAIN_LINES = (60, 150)
REQUIRED = {"demo.py": "demo", "check.py": "check"}


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
    return found
