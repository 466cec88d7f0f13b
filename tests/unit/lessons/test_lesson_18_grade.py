"""Lesson 18's grader judges least privilege from the bindings describe_acls lists: READ (or
DESCRIBE) on the one topic and the one group, by name, passes; anything wider says ✘."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module

grade = load_module(find(18), "grade")
TOPIC, GROUP, READER = "lesson18.orders.abc", "lesson18-reader-abc", "User:reader-abc"
LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
ALLOW, DENY = AclPermissionType.ALLOW, AclPermissionType.DENY


def rule(
    kind: ResourceType,
    name: str,
    op: AclOperation = AclOperation.READ,
    pattern: ResourcePatternType = LITERAL,
    permission: AclPermissionType = ALLOW,
) -> AclBinding:
    return AclBinding(kind, name, pattern, READER, "*", op, permission)


RIGHT = [rule(ResourceType.TOPIC, TOPIC), rule(ResourceType.GROUP, GROUP)]


@pytest.mark.parametrize(
    "bindings",
    [
        RIGHT,
        [*RIGHT, rule(ResourceType.TOPIC, TOPIC, AclOperation.DESCRIBE)],
        # A DENY takes away; it grants nothing.
        [*RIGHT, rule(ResourceType.TOPIC, "*", AclOperation.ALL, permission=DENY)],
    ],
)
def test_reading_one_topic_in_one_group_passes(bindings: list[AclBinding]) -> None:
    assert grade.least_privilege(bindings, TOPIC, GROUP).ok


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (rule(ResourceType.TOPIC, TOPIC, AclOperation.ALL), "ALLOW ALL on TOPIC"),
        (rule(ResourceType.TOPIC, "*"), "a wildcard"),
        (rule(ResourceType.GROUP, "*"), "a wildcard"),
        (rule(ResourceType.TOPIC, "lesson18.", pattern=PREFIXED), "(PREFIXED)"),
        (rule(ResourceType.TOPIC, TOPIC, AclOperation.WRITE), "ALLOW WRITE on TOPIC"),
        (rule(ResourceType.GROUP, GROUP, AclOperation.DELETE), "ALLOW DELETE on GROUP"),
        (rule(ResourceType.TOPIC, "lesson18.payments.abc"), "'lesson18.payments.abc'"),
        (rule(ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE), "on BROKER"),
        (rule(ResourceType.TRANSACTIONAL_ID, "reader"), "on TRANSACTIONAL_ID"),
    ],
)
def test_any_wider_grant_fails(extra: AclBinding, said: str) -> None:
    judged = grade.least_privilege([*RIGHT, extra], TOPIC, GROUP)
    assert judged.ok is False
    assert said in judged.detail
    assert judged.fix
