"""Which topics and groups each service may use, and the broker ACLs that say so.

The table below is the platform's data flow written down once: what each service reads and
writes. The ACLs are derived from it, so a service that starts reading a new topic fails with
TOPIC_AUTHORIZATION_FAILED until the table (and its unit test against the services'
subscriptions) says it may. Everything not granted is denied
(`allow.everyone.if.no.acl.found=false`).
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from kafkalab.catalogue.services import SERVICES, group_id
from kafkalab.events import topics as t


@dataclass(frozen=True)
class Access:
    """What one service may do: topics it reads, topics it writes, and name prefixes."""

    reads: frozenset[str]
    writes: frozenset[str]
    group_prefixes: tuple[str, ...]
    transactional_prefix: str | None = None
    topic_prefixes: tuple[str, ...] = ()
    """Topics the service creates and owns by name prefix (quixstreams' changelogs)."""
    describe_configs: bool = False
    """quixstreams reads its input and output topics' configs before it starts."""


def _access(
    name: str,
    reads: set[str],
    writes: set[str],
    transactional: bool = False,
    topic_prefixes: tuple[str, ...] = (),
    describe_configs: bool = False,
) -> Access:
    # Every service writes its own dead letters and its audit records; groups are named
    # kafkalab-<service>… (the service's group, its workers) or <service>-… (table readers).
    dlt = {t.dlt_topic(name)} & {spec.name for spec in t.CATALOGUE}  # user has none
    return Access(
        reads=frozenset(reads),
        writes=frozenset(writes | dlt | {t.AUDIT}),
        group_prefixes=(group_id(name), f"{name}-"),
        transactional_prefix=group_id(name) if transactional else None,
        topic_prefixes=topic_prefixes,
        describe_configs=describe_configs,
    )


SERVICE_ACCESS: dict[str, Access] = {
    "user": _access("user", {t.USERS}, {t.USER_EVENTS, t.USERS}),
    "order": _access(
        "order",
        {t.INVENTORY_EVENTS, t.PAYMENTS, t.INVENTORY_REPLIES, t.ORDER_EVENTS},
        {t.ORDER_EVENTS, t.INVENTORY_REQUESTS},
    ),
    "inventory": _access(
        "inventory",
        {t.ORDER_EVENTS, t.PAYMENTS, t.INVENTORY_REQUESTS, t.STOCK, t.INVENTORY_EVENTS},
        {t.INVENTORY_EVENTS, t.INVENTORY_REPLIES, t.STOCK},
        transactional=True,
    ),
    "payment": _access(
        "payment",
        {t.INVENTORY_EVENTS, t.PAYMENTS_RETRY, t.USERS, t.PAYMENTS},
        {t.PAYMENTS, t.PAYMENTS_RETRY},
        transactional=True,
    ),
    "notification": _access(
        "notification",
        {t.ORDER_EVENTS, t.USERS, t.NOTIFICATIONS, *t.CHANNEL_TOPICS.values()},
        {t.NOTIFICATIONS, *t.CHANNEL_TOPICS.values()},
    ),
    "analytics": _access(
        "analytics",
        {t.ORDER_EVENTS, t.PAYMENTS, t.STOCK, t.NOTIFICATIONS, *t.CHANNEL_TOPICS.values()},
        {t.ANALYTICS},
        # quixstreams names its state and repartition topics after the consumer group (and
        # analytics' facts topic follows suit: facts.topic_name).
        describe_configs=True,
        topic_prefixes=(
            f"changelog__{group_id('analytics')}",
            f"repartition__{group_id('analytics')}",
        ),
    ),
}
assert set(SERVICE_ACCESS) == set(SERVICES)


def _allow(
    principal: str,
    kind: ResourceType,
    name: str,
    operation: AclOperation,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(
        kind, name, pattern, f"User:{principal}", "*", operation, AclPermissionType.ALLOW
    )


def service_bindings(service: str) -> list[AclBinding]:
    """The ALLOW ACLs of one service (its SCRAM user is named like the service)."""
    access = SERVICE_ACCESS[service]
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    prefixed = ResourcePatternType.PREFIXED
    bindings: list[AclBinding] = []
    for name in sorted(access.reads):
        bindings.append(_allow(service, topic, name, AclOperation.READ))
    for name in sorted(access.writes):
        bindings.append(_allow(service, topic, name, AclOperation.WRITE))
    for name in sorted(access.reads | access.writes):
        bindings.append(_allow(service, topic, name, AclOperation.DESCRIBE))
    if access.describe_configs:
        for name in sorted(access.reads | access.writes):
            bindings.append(_allow(service, topic, name, AclOperation.DESCRIBE_CONFIGS))
    for prefix in access.group_prefixes:
        bindings.append(_allow(service, group, prefix, AclOperation.READ, prefixed))
    for prefix in access.topic_prefixes:
        bindings.append(_allow(service, topic, prefix, AclOperation.ALL, prefixed))
    if access.transactional_prefix:
        txn = ResourceType.TRANSACTIONAL_ID
        bindings.append(
            _allow(service, txn, access.transactional_prefix, AclOperation.WRITE, prefixed)
        )
        bindings.append(
            _allow(service, txn, access.transactional_prefix, AclOperation.DESCRIBE, prefixed)
        )
    return bindings


def all_bindings() -> list[AclBinding]:
    return [binding for service in SERVICES for binding in service_bindings(service)]


def may_read(service: str, topic: str) -> bool:
    return topic in SERVICE_ACCESS[service].reads


def may_write(service: str, topic: str) -> bool:
    return topic in SERVICE_ACCESS[service].writes
