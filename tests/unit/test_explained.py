"""The table of Kafka errors a lesson explains: each lesson exists and the part of its chapter
`--explain` prints really talks about the error, and the pointer is worded in one place."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkalab.curriculum import manifest, runner
from kafkalab.explained import EXPLAINED, REGISTRY_INCOMPATIBLE, explain, lesson_for

LESSONS = {lesson.number: lesson for lesson in manifest.load()}


@pytest.mark.parametrize("name", sorted(EXPLAINED))
def test_the_lesson_exists_and_its_chapter_names_the_error(name: str) -> None:
    entry = EXPLAINED[name]
    assert entry.lesson in LESSONS, f"{name} points at lesson {entry.lesson}, not in lessons.toml"
    # the pointer says `--explain`, which prints the main part (not `## More`) and the questions
    shown = runner.explain_brief(LESSONS[entry.lesson])
    assert entry.phrase in shown, (
        f"lesson {entry.lesson}'s explain.md never says {entry.phrase} before its `## More`"
    )


@pytest.mark.parametrize("name", sorted(set(EXPLAINED) - {REGISTRY_INCOMPATIBLE}))
def test_every_key_is_a_code_name_librdkafka_reports(name: str) -> None:
    assert KafkaError(getattr(KafkaError, name)).name() == name


def test_an_explained_error_ends_with_its_lesson() -> None:
    error = KafkaError(KafkaError.NOT_ENOUGH_REPLICAS)
    assert lesson_for(KafkaException(error)) == 20
    assert explain(error) == (
        "NOT_ENOUGH_REPLICAS: Broker: Not enough in-sync replicas"
        " — see `kafkalab lesson 20 --explain`"
    )


def test_an_unexplained_error_is_left_as_it_is() -> None:
    error = KafkaError(KafkaError._TRANSPORT)
    assert lesson_for(error) is None
    assert explain(error) == f"_TRANSPORT: {error.str()}"
    assert lesson_for(RuntimeError("boom")) is None


def test_the_registrys_409_is_lesson_5() -> None:
    class Incompatible(Exception):
        http_status_code = 409

    assert lesson_for(Incompatible("Schema being registered is incompatible")) == 5
