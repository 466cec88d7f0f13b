"""`kafkalab watch`: grade the current exercise on every save, go on to the next on a pass.

rustlings' watch mode with a real cluster under it. The folder is watched rather than the file,
because editors often save by writing a new file and renaming it over the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kafkalab import ui
from kafkalab.curriculum import workspace
from kafkalab.curriculum.manifest import Lesson
from kafkalab.settings import Settings


def wait_for_save(file: Path) -> None:
    """Block until `file` is written (created, modified or renamed into place)."""
    from watchfiles import watch as changes_in

    target = file.resolve()
    for changes in changes_in(file.parent, debounce=300, raise_interrupt=True):
        if any(Path(path).resolve() == target for _, path in changes):
            return


def watch(
    settings: Settings,
    first: Lesson,
    every: list[Lesson],
    grade_once: Callable[[Settings, Lesson], bool],
) -> None:
    """Grade `first`, then again on each save until it passes, then the next lesson in `every`."""
    lesson: Lesson | None = first
    while lesson is not None:
        file = workspace.find(settings).exercise(lesson)
        while not grade_once(settings, lesson):
            ui.out.print(f"[bold]watching[/] {file} — save it to grade it again (Ctrl-C stops)")
            wait_for_save(file)
        later = [x for x in every if x.number > lesson.number]
        lesson = later[0] if later else None
        if lesson is not None:
            ui.out.print(f"[bold green]on to lesson {lesson.number}[/] — {lesson.title}")
    ui.success("every exercise passed — the course is yours; `kafkalab lessons` shows it all")
