"""Every exercise on the real broker, graded as a learner's would be: the untouched file must ✘
for the right reason (it ran, and the grader found its effect missing), the reference solution
must ✔ with every prediction's truth computed from the run, and each planted wrong answer in
tests/exercises/NN-slug/*.toml (the solution with a few `[[edit]]`s: one realistic mistake) must
✘ with the message its `expect` names. A lesson's break (`[lesson.break]`) must show the
failure it teaches, made as tests/breaks/NN-slug.toml says a learner would make it.

The lesson list comes from lessons.toml, so a new exercise is tested without touching this file.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
import tomllib
from pathlib import Path

import pytest

from kafkalab.curriculum import breaks, exercises, manifest, workspace
from kafkalab.curriculum.exercises import ExerciseResult, Program
from kafkalab.curriculum.lab import SideCluster
from kafkalab.curriculum.manifest import Lesson
from kafkalab.settings import Settings
from tests.integration.pool import Running

pytestmark = pytest.mark.integration

LESSONS = [x for x in manifest.load() if workspace.has_exercise(x)]
PLANTED = Path(__file__).resolve().parents[1] / "exercises"


def _id(lesson: Lesson) -> str:
    return f"{lesson.number:02d}-{lesson.slug}"


KINDS = ("platform", "secure", "brokers3")
"""What an exercise runs on beyond the session cluster: the shared platform, or a side cluster
(secure, three brokers) lent from the session's pool as `shared`, as the demos' tests do."""


def _kind(lesson: Lesson) -> str:
    needs = lesson.exercise.needs if lesson.exercise else ()
    return next((kind for kind in KINDS if kind in needs), "cluster")


def _params(kind: str) -> list[object]:
    return [pytest.param(x, id=_id(x)) for x in LESSONS if _kind(x) == kind]


def _planted(kind: str) -> list[object]:
    out: list[object] = []
    for lesson in LESSONS:
        if _kind(lesson) != kind:
            continue
        for path in sorted((PLANTED / lesson.directory.name).glob("*.toml")):
            out.append(pytest.param(lesson, path, id=f"{_id(lesson)}/{path.stem}"))
    return out


Shared = dict[tuple[int, bool], SideCluster] | None


def _lent(running: Running, brokers: int, secure: bool) -> Shared:
    return {(brokers, secure): SideCluster(running.settings, running.conn)}


def _first_failure(result: ExerciseResult) -> str:
    failed = [c for c in result.checks if c.ok is False]
    assert failed, f"lesson {result.number}: passed, but a ✘ was expected"
    return f"{failed[0].name}: {failed[0].detail} ({failed[0].fix})"


def _untouched(settings: Settings, lesson: Lesson, shared: Shared = None) -> None:
    result = exercises.run(
        settings, lesson, workspace.pristine(lesson), quiet=True, record=False, shared=shared
    )
    first = _first_failure(result)
    ran = result.checks[0]
    assert ran.name == Program.RAN and ran.ok, f"the untouched file crashed: {first}"
    failed = next(c for c in result.checks if c.ok is False)
    assert failed.fix, f"the first ✘ says nothing about how to fix it: {first}"


def _solved(settings: Settings, lesson: Lesson, shared: Shared = None) -> None:
    assert lesson.exercise is not None
    answers = ["0" if not q.choices else q.choices[0] for q in lesson.exercise.questions]
    result = exercises.run(
        settings,
        lesson,
        workspace.solution(lesson),
        quiet=True,
        answers=answers,
        record=False,
        shared=shared,
    )
    failed = [f"{c.name}: {c.detail}" for c in result.checks if c.ok is False]
    assert result.passed, f"lesson {lesson.number}'s solution failed: {failed}\n{result.output}"
    unseen = [s.question.key for s in result.predictions if s.truth is None]
    assert not unseen, f"the run computed no truth for {unseen}"


def planted(lesson: Lesson, path: Path, folder: Path) -> Path:
    """The solution with the plant's edits, as a learner's exercise.py: each `find` must stand
    exactly once in solution.py, so a plant that no longer applies fails loudly."""
    solution = workspace.solution(lesson).read_text()
    spots = []
    for edit in tomllib.loads(path.read_text())["edit"]:
        assert solution.count(edit["find"]) == 1, f"{path.name}: not once in solution.py: {edit}"
        start = solution.index(edit["find"])
        spots.append((start, start + len(edit["find"]), edit["replace"]))
    text = solution
    for start, end, replace in sorted(spots, reverse=True):
        text = text[:start] + replace + text[end:]
    file = folder / lesson.directory.name / workspace.EXERCISE
    file.parent.mkdir(parents=True)
    file.write_text(text)
    return file


def _wrong(
    settings: Settings, lesson: Lesson, path: Path, folder: Path, shared: Shared = None
) -> None:
    expected = tomllib.loads(path.read_text())["expect"]
    file = planted(lesson, path, folder)
    result = exercises.run(settings, lesson, file, quiet=True, record=False, shared=shared)
    # The check that teaches the mistake says so, though not always first: acks=0 may also lose
    # records on a busy machine, and the "all reached" check then fails before it.
    failures = [f"{c.name}: {c.detail} ({c.fix})" for c in result.checks if c.ok is False]
    assert failures, f"lesson {result.number}: passed, but a ✘ was expected"
    assert any(expected in failure for failure in failures), failures


@pytest.mark.parametrize("lesson", _params("cluster"))
def test_untouched_exercise_fails_with_a_fix(cluster: Settings, lesson: Lesson) -> None:
    _untouched(cluster, lesson)


@pytest.mark.parametrize("lesson", _params("cluster"))
def test_reference_solution_passes(cluster: Settings, lesson: Lesson) -> None:
    _solved(cluster, lesson)


@pytest.mark.parametrize(("lesson", "path"), _planted("cluster"))
def test_planted_wrong_answer_fails(
    cluster: Settings, lesson: Lesson, path: Path, tmp_path: Path
) -> None:
    _wrong(cluster, lesson, path, tmp_path)


# Each kind only while some exercise needs it: an empty parametrization would be a skip.
if _params("platform"):

    @pytest.mark.parametrize("lesson", _params("platform"))
    def test_untouched_exercise_on_the_platform_fails(platform: Running, lesson: Lesson) -> None:
        _untouched(platform.settings, lesson)

    @pytest.mark.parametrize("lesson", _params("platform"))
    def test_reference_solution_on_the_platform_passes(platform: Running, lesson: Lesson) -> None:
        _solved(platform.settings, lesson)

    @pytest.mark.parametrize(("lesson", "path"), _planted("platform"))
    def test_planted_wrong_answer_on_the_platform_fails(
        platform: Running, lesson: Lesson, path: Path, tmp_path: Path
    ) -> None:
        _wrong(platform.settings, lesson, path, tmp_path)


if _params("secure"):

    @pytest.mark.parametrize("lesson", _params("secure"))
    def test_untouched_exercise_on_a_secure_cluster_fails(
        secure_platform: Running, lesson: Lesson
    ) -> None:
        _untouched(secure_platform.settings, lesson, _lent(secure_platform, 1, True))

    @pytest.mark.parametrize("lesson", _params("secure"))
    def test_reference_solution_on_a_secure_cluster_passes(
        secure_platform: Running, lesson: Lesson
    ) -> None:
        _solved(secure_platform.settings, lesson, _lent(secure_platform, 1, True))

    @pytest.mark.parametrize(("lesson", "path"), _planted("secure"))
    def test_planted_wrong_answer_on_a_secure_cluster_fails(
        secure_platform: Running, lesson: Lesson, path: Path, tmp_path: Path
    ) -> None:
        _wrong(secure_platform.settings, lesson, path, tmp_path, _lent(secure_platform, 1, True))


if _params("brokers3"):

    @pytest.mark.parametrize("lesson", _params("brokers3"))
    def test_untouched_exercise_on_three_brokers_fails(
        three_brokers: Running, lesson: Lesson
    ) -> None:
        _untouched(three_brokers.settings, lesson, _lent(three_brokers, 3, False))

    @pytest.mark.parametrize("lesson", _params("brokers3"))
    def test_reference_solution_on_three_brokers_passes(
        three_brokers: Running, lesson: Lesson
    ) -> None:
        _solved(three_brokers.settings, lesson, _lent(three_brokers, 3, False))


if _planted("brokers3"):  # lesson 20 shows its wrong answer as a break instead

    @pytest.mark.parametrize(("lesson", "path"), _planted("brokers3"))
    def test_planted_wrong_answer_on_three_brokers_fails(
        three_brokers: Running, lesson: Lesson, path: Path, tmp_path: Path
    ) -> None:
        _wrong(three_brokers.settings, lesson, path, tmp_path, _lent(three_brokers, 3, False))


# --- breaks: `kafkalab lesson N --break` --------------------------------------------------
# Each lesson's [lesson.break], made the way a learner would make it: tests/breaks/NN-slug.toml
# holds the `[[edit]]`s that flip solution.py (the same format as a plant) and `expect`, part of
# the named check's "name: detail (fix)". The break must show (its named check ✘, nothing else
# unexpected), with every prediction's truth computed from the run. These tests live here so
# that a lesson's exercise runs and break runs share one xdist group (they share topic names).
BROKEN = Path(__file__).resolve().parents[1] / "breaks"


def _breaks(kind: str) -> list[object]:
    return [pytest.param(x, id=_id(x)) for x in LESSONS if x.breaking and _kind(x) == kind]


def _typed(settings: Settings, command: str) -> threading.Thread:
    """A learner in a second terminal: once the break waits for `command`, run it (noted in the
    journal as `kafkalab chaos` notes it)."""
    from kafkalab.chaos import journal, runner
    from kafkalab.cluster import connect

    wanted = journal.parse(command)

    def type_it() -> None:
        deadline = time.monotonic() + 120
        while journal.awaited(settings) != command and time.monotonic() < deadline:
            time.sleep(0.1)
        journal.note(settings, dataclasses.replace(wanted, at=time.time()))
        runner.run(
            settings,
            connect.resolve(settings),
            wanted.action,
            wanted.target,
            wanted.replica,
            wanted.during_load,
            wanted.every,
        )

    thread = threading.Thread(target=type_it, daemon=True)
    thread.start()
    return thread


def _broken(settings: Settings, lesson: Lesson, folder: Path, shared: Shared = None) -> None:
    info = lesson.breaking
    assert info is not None
    flip = BROKEN / f"{lesson.directory.name}.toml"
    assert flip.is_file(), f"lesson {lesson.number} has a break but no {flip}"
    file = planted(lesson, flip, folder)
    answers = ["0" if not q.choices else q.choices[0] for q in info.questions]
    typed = _typed(settings, info.command) if info.command else None
    result = breaks.run(
        settings, lesson, file, quiet=True, answers=answers, shared=shared, record=False
    )
    if typed is not None:
        typed.join(timeout=180)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if c.ok is False]
    assert result.broke and result.failed is not None, f"the break did not show: {failed}"
    named = f"{result.failed.name}: {result.failed.detail} ({result.failed.fix})"
    assert tomllib.loads(flip.read_text())["expect"] in named
    assert not result.also, f"failed beyond the break: {[c.name for c in result.also]}"
    unseen = [s.question.key for s in result.predictions if s.truth is None]
    assert not unseen, f"the run computed no truth for {unseen}"
    assert "{" not in result.shows, f"a {{key}} the run did not compute: {result.shows}"


@pytest.mark.parametrize("lesson", _breaks("cluster"))
def test_a_break_shows_the_failure_it_teaches(
    cluster: Settings, lesson: Lesson, tmp_path: Path
) -> None:
    _broken(cluster, lesson, tmp_path)


if _breaks("platform"):

    @pytest.mark.parametrize("lesson", _breaks("platform"))
    def test_a_break_on_the_platform_shows_its_failure(
        platform: Running, lesson: Lesson, tmp_path: Path
    ) -> None:
        if lesson.number == 19 and shutil.which(platform.settings.prometheus) is None:
            pytest.skip("lesson 19's break needs the prometheus binary (Debian `prometheus`)")
        _broken(platform.settings, lesson, tmp_path)


if _breaks("secure"):

    @pytest.mark.parametrize("lesson", _breaks("secure"))
    def test_a_break_on_a_secure_cluster_shows_its_failure(
        secure_platform: Running, lesson: Lesson, tmp_path: Path
    ) -> None:
        _broken(secure_platform.settings, lesson, tmp_path, _lent(secure_platform, 1, True))


if _breaks("brokers3"):

    @pytest.mark.parametrize("lesson", _breaks("brokers3"))
    def test_a_break_on_three_brokers_shows_its_failure(
        three_brokers: Running, lesson: Lesson, tmp_path: Path
    ) -> None:
        _broken(three_brokers.settings, lesson, tmp_path, _lent(three_brokers, 3, False))
