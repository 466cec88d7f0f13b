"""Where the learner's exercise files are, and how to make or restore them.

In a clone the learner edits `lessons/NN-slug/exercise.py` in place (the lessons folder is
theirs). A pip-installed kafkalab keeps its lessons inside site-packages, so `kafkalab init DIR`
copies every exercise into a workspace of the learner's own; the folder is found again by its
marker file (from the current directory up), or by the pointer `init` leaves in the data dir.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kafkalab.curriculum.manifest import LESSONS_DIR, Lesson
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings

MARKER = "kafkalab-workspace.toml"
EXERCISE = "exercise.py"
SOLUTION = "solution.py"


class NoWorkspace(KafkalabError):
    hint = "run `kafkalab init DIR` to copy the exercises into a folder of your own"


class CannotRestore(KafkalabError):
    hint = "restore the file from your clone with `git checkout -- FILE`"


@dataclass(frozen=True)
class Workspace:
    root: Path
    in_place: bool
    """True when the workspace is the lessons folder itself (a clone): restoring then reads the
    file as git last committed it."""

    def exercise(self, lesson: Lesson) -> Path:
        if self.in_place:
            return lesson.directory / EXERCISE
        return self.root / lesson.directory.name / EXERCISE


def has_exercise(lesson: Lesson) -> bool:
    return lesson.exercise is not None and (lesson.directory / EXERCISE).is_file()


def pristine(lesson: Lesson) -> Path:
    return lesson.directory / EXERCISE


def solution(lesson: Lesson) -> Path:
    return lesson.directory / SOLUTION


def _is_checkout(folder: Path) -> bool:
    return "_bundled" not in folder.parts and "site-packages" not in folder.parts


def find(settings: Settings, cwd: Path | None = None) -> Workspace:
    """KAFKALAB_WORKSPACE, else a marker from `cwd` up, else init's pointer, else the clone."""
    if settings.workspace is not None:
        return Workspace(settings.workspace.resolve(), in_place=False)
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return Workspace(folder, in_place=False)
    pointer = _pointer(settings)
    if pointer.is_file():
        root = Path(pointer.read_text().strip())
        if (root / MARKER).is_file():
            return Workspace(root, in_place=False)
    if _is_checkout(LESSONS_DIR):
        return Workspace(LESSONS_DIR, in_place=True)
    raise NoWorkspace("there is no exercise folder yet: kafkalab is installed as a package")


def _pointer(settings: Settings) -> Path:
    return settings.data_dir / "workspace"


@dataclass(frozen=True)
class Initialised:
    root: Path
    created: list[Path]
    kept: list[Path]


def init(settings: Settings, root: Path, lessons: list[Lesson]) -> Initialised:
    """Copy every exercise into `root` (files already there are the learner's: kept)."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise NoWorkspace(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "# A kafkalab exercise workspace: `kafkalab lesson N` grades the files in here.\n"
    )
    created: list[Path] = []
    kept: list[Path] = []
    for lesson in lessons:
        if not has_exercise(lesson):
            continue
        target = root / lesson.directory.name / EXERCISE
        if target.exists():
            kept.append(target)
            continue
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(pristine(lesson), target)
        created.append(target)
    pointer = _pointer(settings)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(root))
    return Initialised(root, created, kept)


def original_text(workspace: Workspace, lesson: Lesson) -> str:
    """The exercise as shipped: the lessons folder's copy, or in a clone git's committed one."""
    if not workspace.in_place:
        return pristine(lesson).read_text()
    relative = f"{lesson.directory.name}/{EXERCISE}"
    try:
        shown = subprocess.run(
            ["git", "-C", str(LESSONS_DIR), "show", f"HEAD:./{relative}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except OSError as exc:
        raise CannotRestore(f"cannot run git to restore {relative}: {exc}") from exc
    if shown.returncode != 0:
        raise CannotRestore(f"git has no committed {relative}: {shown.stderr.strip()}")
    return shown.stdout


def restore(settings: Settings, workspace: Workspace, lesson: Lesson) -> Path | None:
    """Put the original exercise back; the learner's version is kept in the data dir.
    Returns where the learner's version went (None when the file was already original)."""
    target = workspace.exercise(lesson)
    original = original_text(workspace, lesson)
    backup = None
    if target.is_file():
        if target.read_text() == original:
            return None
        backup = settings.data_dir / "exercises" / "replaced" / f"{lesson.directory.name}.py"
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, backup)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(original)
    return backup
