"""Kafka errors a lesson explains, and the one place that points a user at that lesson.

A learner who meets `TOPIC_AUTHORIZATION_FAILED` in a command's ✘ line or a service's log is
better served by "see `kafkalab lesson 18 --explain`" than by the code alone. `EXPLAINED` is the
only table of which error a lesson explains; `see_lesson()` the only place the pointer is worded.

Keys are librdkafka's code names as `KafkaError.name()` reports them (local errors begin with
`_`), plus `REGISTRY_409` for the schema registry's "incompatible schema". Each entry also names
the phrase the lesson's explain.md uses for the error: a unit test holds the chapter to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException

REGISTRY_INCOMPATIBLE = "REGISTRY_409"


@dataclass(frozen=True)
class Explained:
    """Lesson `lesson` explains the error; its chapter says `phrase` about it."""

    lesson: int
    phrase: str


def _by_name(lesson: int, *names: str) -> dict[str, Explained]:
    return {name: Explained(lesson, name) for name in names}


EXPLAINED: dict[str, Explained] = {
    **_by_name(2, "UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC"),
    **_by_name(3, "MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"),
    REGISTRY_INCOMPATIBLE: Explained(5, "409"),
    **_by_name(
        7, "REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "_ASSIGNMENT_LOST"
    ),
    **_by_name(10, "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "_FENCED"),
    **_by_name(
        18,
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
        "SASL_AUTHENTICATION_FAILED",
        "_AUTHENTICATION",
    ),
    **_by_name(20, "NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND"),
}


def see_lesson(lesson: int) -> str:
    """The pointer every explained error ends with."""
    return f"see `kafkalab lesson {lesson} --explain`"


def error_name(error: KafkaError | BaseException) -> str | None:
    """The table key for `error`: a KafkaError's code name, the one a KafkaException carries,
    `REGISTRY_409` for the registry client's 409; None for anything else."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        error = error.args[0]
    if isinstance(error, KafkaError):
        return str(error.name())
    # confluent_kafka.schema_registry.error.SchemaRegistryError, by shape: importing it pulls
    # in httpx, which the commands that never touch the registry should not pay for.
    if getattr(error, "http_status_code", None) == 409:
        return REGISTRY_INCOMPATIBLE
    return None


def lesson_for(error: KafkaError | BaseException) -> int | None:
    """The lesson that explains `error`, or None if no lesson does."""
    name = error_name(error)
    return EXPLAINED[name].lesson if name in EXPLAINED else None


def describe(error: KafkaError | BaseException) -> str:
    """`error` as `CODE_NAME: what the client said` (or its text, if it has no code name)."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        error = error.args[0]
    if isinstance(error, KafkaError):
        return f"{error.name()}: {error.str()}"
    name = error_name(error)
    return f"{name}: {error}" if name else str(error)


def explain(error: KafkaError | BaseException) -> str:
    """`error` as one line, ending with the lesson pointer when a lesson explains it:
    "TOPIC_AUTHORIZATION_FAILED: Broker: Topic authorization failed — see `kafkalab lesson 18
    --explain`". For logs and messages; the CLI edge puts the pointer in its hint instead."""
    lesson = lesson_for(error)
    return describe(error) if lesson is None else f"{describe(error)} — {see_lesson(lesson)}"
