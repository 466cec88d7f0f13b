"""Every lesson's demo and check on the real broker: the session cluster for the lessons that
need only the broker, one platform of their own for those that need the six services.

The lesson list comes from lessons.toml, so a new lesson is tested without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkalab.curriculum import manifest, progress, runner
from kafkalab.curriculum.manifest import Lesson
from kafkalab.settings import Settings
from tests.integration.services import own_platform

pytestmark = pytest.mark.integration

LESSONS = manifest.load()


def _params(kind: str) -> list[object]:
    chosen = [x for x in LESSONS if _kind(x) == kind]
    return [
        pytest.param(x, id=f"{x.number:02d}-{x.slug}", marks=[pytest.mark.slow] if x.slow else [])
        for x in chosen
    ]


def _kind(lesson: Lesson) -> str:
    if "platform" in lesson.needs:
        return "platform"
    if "brokers3" in lesson.needs or "secure" in lesson.needs:
        return "own-cluster"
    return "cluster"


def _run(settings: Settings, lesson: Lesson) -> None:
    result = runner.run(settings, lesson, quiet=True)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    assert result.passed, f"lesson {lesson.number} failed: {failed}"
    assert progress.status(progress.load(settings), lesson.number) == progress.PASSED


@pytest.mark.parametrize("lesson", _params("cluster"))
def test_lesson_on_the_session_cluster(cluster: Settings, lesson: Lesson) -> None:
    _run(cluster, lesson)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_platform(tmp_path_factory.mktemp("lessons-platform")) as settings:
        yield settings


@pytest.mark.parametrize("lesson", _params("platform"))
def test_lesson_on_the_platform(platform: Settings, lesson: Lesson) -> None:
    _run(platform, lesson)


@pytest.mark.parametrize("lesson", _params("own-cluster"))
def test_lesson_with_a_cluster_of_its_own(tmp_path: Path, lesson: Lesson) -> None:
    """Lessons 18 and 20 start the cluster shape they need (secure, three brokers) in their own
    data dir below the given one, on free ports."""
    from kafkalab.settings import load_settings
    from tests.helpers import free_port_block

    base = free_port_block(8)
    settings = load_settings(
        data_dir=tmp_path,
        broker_port=base,
        controller_port=base + 3,
        registry_port=base + 6,
        secure_port=base + 7,
    )
    _run(settings, lesson)


def test_reset_removes_the_lessons_topics(cluster: Settings) -> None:
    lesson = manifest.find(2, LESSONS)
    runner.run(cluster, lesson, quiet=True)
    removed = runner.reset(cluster, lesson)
    assert any(name.startswith("lesson02.") for name in removed)
    assert runner.reset(cluster, lesson) == []
