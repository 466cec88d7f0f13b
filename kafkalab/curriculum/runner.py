"""Run one lesson: clear its leftovers, run its demo, judge what the demo saw, record progress.

A lesson folder is loaded as a package of its own (`kafkalab_lesson_NN`) so `demo.py` can import
the observation dataclass from `check.py` with a relative import, while the folder keeps its
readable `NN-slug` name.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kafkalab.connection import Connection
from kafkalab.curriculum import progress
from kafkalab.curriculum.lab import Lab, SideCluster, remove_leftovers
from kafkalab.curriculum.manifest import Lesson, ManifestError
from kafkalab.settings import Settings
from kafkalab.verdict import Check, passed


@dataclass
class LessonResult:
    number: int
    title: str
    checks: list[Check]
    passed: bool
    seconds: float
    hint: str


def package_name(lesson: Lesson) -> str:
    return f"kafkalab_lesson_{lesson.number:02d}"


def load_module(lesson: Lesson, name: str) -> ModuleType:
    """`demo` or `check` of a lesson folder, imported as `kafkalab_lesson_NN.<name>`."""
    package = package_name(lesson)
    if package not in sys.modules:
        if not lesson.directory.is_dir():
            raise ManifestError(f"lesson {lesson.number} has no folder {lesson.directory.name}")
        spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
        module = importlib.util.module_from_spec(spec)
        module.__path__ = [str(lesson.directory)]
        sys.modules[package] = module
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        raise ManifestError(f"lesson {lesson.number} has no {name}.py ({exc})") from exc


def demo_function(lesson: Lesson) -> Callable[[Lab], Any]:
    function: Callable[[Lab], Any] = load_module(lesson, "demo").demo
    return function


def check_function(lesson: Lesson) -> Callable[[Any], list[Check]]:
    function: Callable[[Any], list[Check]] = load_module(lesson, "check").check
    return function


def run(
    settings: Settings,
    lesson: Lesson,
    quiet: bool = False,
    shared: dict[tuple[int, bool], SideCluster] | None = None,
) -> LessonResult:
    """Run the lesson's demo and check it; `shared`: side clusters to lend (see Lab)."""
    started = time.monotonic()
    lab = Lab(settings=settings, lesson=lesson, quiet=quiet, shared=dict(shared or {}))
    ok = False
    try:
        if "cluster" in lesson.needs or "platform" in lesson.needs:
            lab.start_cluster()
            remove_leftovers(lab.conn, lesson)
        seen = demo_function(lesson)(lab)
        checks = check_function(lesson)(seen)
        ok = passed(checks)
    finally:
        progress.record(settings, lesson.number, ok, time.monotonic() - started)
    return LessonResult(
        number=lesson.number,
        title=lesson.title,
        checks=checks,
        passed=ok,
        seconds=time.monotonic() - started,
        hint=lesson.hint,
    )


def reset(conn: Connection, lesson: Lesson) -> list[str]:
    from kafkalab.observe.reach import topic_names

    topic_names(conn)  # one sentence, not a librdkafka timeout, when no broker runs
    return remove_leftovers(conn, lesson)


def explain_text(lesson: Lesson) -> str:
    """The whole chapter, `## More` included."""
    path = lesson.directory / "explain.md"
    try:
        return path.read_text()
    except OSError as exc:
        raise ManifestError(f"lesson {lesson.number} has no explain.md") from exc


def explain_brief(lesson: Lesson) -> str:
    """What `--explain` prints: the main part, the questions, and how to read the rest."""
    from kafkalab.curriculum import chapter

    return chapter.split(explain_text(lesson)).brief(lesson.number)
