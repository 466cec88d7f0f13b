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

from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES, group_id
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
    groups: tuple[str, ...] = ()
    """Groups granted by their exact name (the learner's service: nothing it did not name)."""
    transactional_ids: tuple[str, ...] = ()
    """Transactional ids granted by their exact name."""


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
        # `stock`: its stock view when KAFKALAB_STOCK_CHECK=table (replies otherwise).
        {t.INVENTORY_EVENTS, t.PAYMENTS, t.INVENTORY_REPLIES, t.ORDER_EVENTS, t.STOCK},
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

REFUND = "refund"
REFUND_GROUPS = (group_id(REFUND), f"{REFUND}-payments-table")
"""The refund service's group, and the group id its payments table (assign(), no commits)
names, whose coordinator librdkafka looks up all the same."""
REFUND_TRANSACTIONAL_ID = f"{group_id(REFUND)}-0"
"""`up --with refund` runs one replica, with this one transactional id."""

LEARNER_ACCESS: dict[str, Access] = {
    # Lesson 22's refund service, when `up --secure --with refund` runs it in the shop: what
    # lesson 22's grader grants it on its side cluster, under the shop's own names. No audit,
    # no prefix: it may do exactly what its skeleton does.
    REFUND: Access(
        reads=frozenset({t.ORDER_EVENTS, t.PAYMENTS}),
        writes=frozenset({t.REFUNDS, t.REFUNDS_DLT}),
        group_prefixes=(),
        groups=REFUND_GROUPS,
        transactional_ids=(REFUND_TRANSACTIONAL_ID,),
    ),
}
assert set(LEARNER_ACCESS) == set(LEARNER_SERVICES)


def access(service: str) -> Access:
    """One of the six services', or a learner's service's (KeyError for any other name)."""
    return SERVICE_ACCESS[service] if service in SERVICE_ACCESS else LEARNER_ACCESS[service]


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
    """The ALLOW ACLs of one service, one of the six or the learner's refund service (its SCRAM
    user is named like the service)."""
    granted = access(service)
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    prefixed = ResourcePatternType.PREFIXED
    bindings: list[AclBinding] = []
    for name in sorted(granted.reads):
        bindings.append(_allow(service, topic, name, AclOperation.READ))
    for name in sorted(granted.writes):
        bindings.append(_allow(service, topic, name, AclOperation.WRITE))
    for name in sorted(granted.reads | granted.writes):
        bindings.append(_allow(service, topic, name, AclOperation.DESCRIBE))
    if granted.describe_configs:
        for name in sorted(granted.reads | granted.writes):
            bindings.append(_allow(service, topic, name, AclOperation.DESCRIBE_CONFIGS))
    for prefix in granted.group_prefixes:
        bindings.append(_allow(service, group, prefix, AclOperation.READ, prefixed))
    for prefix in granted.topic_prefixes:
        bindings.append(_allow(service, topic, prefix, AclOperation.ALL, prefixed))
    for name in granted.groups:
        bindings.append(_allow(service, group, name, AclOperation.READ))
    for name in granted.transactional_ids:
        txn = ResourceType.TRANSACTIONAL_ID
        bindings.append(_allow(service, txn, name, AclOperation.WRITE))
    if granted.transactional_prefix:
        txn = ResourceType.TRANSACTIONAL_ID
        bindings.append(
            _allow(service, txn, granted.transactional_prefix, AclOperation.WRITE, prefixed)
        )
        bindings.append(
            _allow(service, txn, granted.transactional_prefix, AclOperation.DESCRIBE, prefixed)
        )
    return bindings


def all_bindings() -> list[AclBinding]:
    """Every principal's ACLs: the six services' and the learner's refund service's (its user
    exists on every secure cluster, whether or not `--with refund` runs it)."""
    return [
        binding
        for service in (*SERVICES, *LEARNER_SERVICES)
        for binding in service_bindings(service)
    ]


def may_read(service: str, topic: str) -> bool:
    return topic in access(service).reads


def may_write(service: str, topic: str) -> bool:
    return topic in access(service).writes
