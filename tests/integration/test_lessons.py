"""Every lesson's demo and check on the real broker: the session cluster for the lessons that
need only the broker, the shared platform for those that need the six services, and the
session's secure and three-broker clusters lent as side clusters to lessons 18 and 20.

The lesson list comes from lessons.toml, so a new lesson is tested without touching this file.
"""

from __future__ import annotations

import pytest

from kafkalab.connection import Connection
from kafkalab.curriculum import manifest, progress, runner
from kafkalab.curriculum.lab import SideCluster
from kafkalab.curriculum.manifest import Lesson
from kafkalab.settings import Settings
from tests.integration.pool import Running

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
    if "secure" in lesson.needs:
        return "secure"
    if "brokers3" in lesson.needs:
        return "brokers3"
    return "cluster"


def _run(
    settings: Settings, lesson: Lesson, shared: dict[tuple[int, bool], SideCluster] | None = None
) -> None:
    result = runner.run(settings, lesson, quiet=True, shared=shared)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    assert result.passed, f"lesson {lesson.number} failed: {failed}"
    assert progress.status(progress.load(settings), lesson.number) == progress.PASSED


@pytest.mark.parametrize("lesson", _params("cluster"))
def test_lesson_on_the_session_cluster(cluster: Settings, lesson: Lesson) -> None:
    _run(cluster, lesson)


@pytest.mark.parametrize("lesson", _params("platform"))
def test_lesson_on_the_platform(platform: Running, lesson: Lesson) -> None:
    _run(platform.settings, lesson)


@pytest.mark.parametrize("lesson", _params("secure"))
def test_lesson_with_a_secure_side_cluster(
    cluster: Settings, secure_platform: Running, lesson: Lesson
) -> None:
    """Lesson 18's side cluster is the session's secure one, lent instead of started."""
    side = SideCluster(secure_platform.settings, secure_platform.conn)
    _run(cluster, lesson, {(1, True): side})


@pytest.mark.parametrize("lesson", _params("brokers3"))
def test_lesson_with_a_three_broker_side_cluster(
    cluster: Settings, three_brokers: Running, lesson: Lesson
) -> None:
    """Lesson 20's side cluster is the session's three-broker one (it kills a broker and
    restarts it, leaving the cluster whole)."""
    side = SideCluster(three_brokers.settings, three_brokers.conn)
    _run(cluster, lesson, {(3, False): side})


def test_reset_removes_the_lessons_topics(cluster: Settings, conn: Connection) -> None:
    lesson = manifest.find(2, LESSONS)
    runner.run(cluster, lesson, quiet=True)
    removed = runner.reset(conn, lesson)
    assert any(name.startswith("lesson02.") for name in removed)
    assert runner.reset(conn, lesson) == []
