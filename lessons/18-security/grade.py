"""Lesson 18's grader: on a secure cluster, it makes a SCRAM user for this run, lets the learner's
file (run as admin) write that user's ACLs, then logs in as the user itself and asks the broker:
may it consume `orders` through its group (records back, offsets committed), is it refused
`payments`, is it refused a write to `orders` — and does describe_acls list no grant beyond
READ/DESCRIBE on that one topic and that one group.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kafkalab.connection import Connection
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab, LessonSetupFailed
from kafkalab.curriculum.readback import committed, read_all
from kafkalab.security.provision import upsert_users
from kafkalab.verdict import Check

RECORDS = 5  # per topic, new values every run
QUIET = {"log_level": 0}  # the refusals are expected: librdkafka's complaints about them are not
TOPIC_DENIED = "TOPIC_AUTHORIZATION_FAILED"
GROUP_DENIED = "GROUP_AUTHORIZATION_FAILED"
DENIALS = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
WRITTEN = "none: the record is written (READ includes WRITE)"
RECORDS_BACK = "the records come back"
LEAST = {AclOperation.READ, AclOperation.DESCRIBE}
BINDINGS_FIX = (
    "two ALLOW bindings for READER, both LITERAL with AclOperation.READ: ResourceType.TOPIC on "
    "ORDERS and ResourceType.GROUP on GROUP"
)


def prepare(lab: Lab) -> Task:
    orders, payments = lab.topic("orders"), lab.topic("payments")
    username = f"reader-{lab.run_id}"  # a new principal every run: no ACL of an earlier run helps
    password = secrets.token_urlsafe(18)
    admin = lab.admin()
    upsert_users(admin, {username: password})
    producer = lab.producer()
    values: dict[str, list[str]] = {}
    for name, topic in (("orders", orders), ("payments", payments)):
        values[name] = [f"{name[:-1]}-{secrets.token_hex(4)}" for _ in range(RECORDS)]
        for value in values[name]:
            producer.produce(topic, key=value.encode(), value=value.encode())
    producer.flush(30)
    _wait_for_login(admin, username)
    return Task(
        topics={"orders": orders, "payments": payments},
        groups={"reader": lab.group("reader")},
        params={"username": username, "password": password},
        private=values,
    )


def _wait_for_login(admin: AdminClient, username: str, timeout: float = 15.0) -> None:
    """The broker knows the new SCRAM credential once it lists it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin.describe_user_scram_credentials([username])[username].result(10)
            return
        except KafkaException:
            time.sleep(0.2)
    raise LessonSetupFailed(f"the broker does not list the SCRAM user {username}")


def _acls(admin: AdminClient, principal: str, timeout: float = 10.0) -> list[AclBinding]:
    """Every ACL the broker holds for `principal`, once two reads agree (the learner's rules
    reach the authorizer through the metadata log, a moment after create_acls returns)."""
    wanted = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        principal,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    before: list[AclBinding] | None = None
    deadline = time.monotonic() + timeout
    while True:
        now = sorted(admin.describe_acls(wanted, request_timeout=10).result(), key=str)
        if now == before or time.monotonic() > deadline:
            return now
        before = now
        time.sleep(0.3)


@dataclass
class Consumed:
    values: list[str]
    denied: str  # the broker's refusal ("" for none)
    commit_error: str = ""


def _consume(reader: Connection, topic: str, group: str, wanted: int) -> Consumed:
    """As the reader, in `group`: subscribe to `topic`, read `wanted` records, commit them."""
    consumer = Consumer(
        {
            **reader.librdkafka(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **QUIET,
        }
    )
    consumer.subscribe([topic])
    got: list[str] = []
    denied = ""
    deadline = time.monotonic() + 20
    try:
        while len(got) < wanted and time.monotonic() < deadline and not denied:
            msg = consumer.poll(0.5)
            error = msg.error() if msg is not None else None
            if error is not None and error.code() in DENIALS:
                denied = error.name()
            elif msg is not None and error is None:
                got.append((msg.value() or b"").decode(errors="replace"))
        if not got and not denied:  # librdkafka may keep a Metadata refusal to the metadata
            meta = consumer.list_topics(topic, timeout=10).topics[topic].error
            denied = meta.name() if meta is not None and meta.code() in DENIALS else ""
        if got and not denied:
            try:
                consumer.commit(asynchronous=False)
            except KafkaException as exc:
                return Consumed(got, "", exc.args[0].name())
    finally:
        consumer.close()
    return Consumed(got, denied)


def _fetch(reader: Connection, topic: str, timeout: float = 10.0) -> tuple[str, int]:
    """As the reader, with assign() (no group to join): TOPIC_AUTHORIZATION_FAILED if the broker
    refused `topic` ("" if not), and how many records came back. (librdkafka still looks for
    the coordinator of its group.id, and reports that group's refusal: not the topic's.)"""
    consumer = Consumer(
        {**reader.librdkafka(), "group.id": "unused", "enable.auto.commit": False, **QUIET}
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    leaked = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            error = msg.error() if msg is not None else None
            if msg is not None and error is None:
                leaked += 1
                continue
            if error is None or error.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
                error = consumer.list_topics(topic, timeout=10).topics[topic].error
            if error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                return error.name(), leaked
            if leaked >= RECORDS:
                break
    finally:
        consumer.close()
    return "", leaked


def _produce(reader: Connection, topic: str) -> tuple[str, str]:
    """As the reader, a plain (not idempotent) producer writes one record: the broker's error
    for it ("" when it was written), and the record's value."""
    token = f"written-by-reader-{secrets.token_hex(4)}"
    errors: list[KafkaError] = []
    producer = Producer({**reader.librdkafka(), "message.timeout.ms": 15000, **QUIET})

    def delivered(error: KafkaError | None, _msg: Any) -> None:
        if error is not None:
            errors.append(error)

    producer.produce(topic, value=token.encode(), on_delivery=delivered)
    producer.flush(20)
    return (errors[0].name() if errors else ""), token


def _reads_orders(
    got: Consumed, topic_denied: str, expected: list[str], offsets: dict[int, int], task: Task
) -> Check:
    """`topic_denied`: the broker's answer to READER fetching orders without a group, which
    tells a refused topic from a refused group (the group's refusal comes first in a group)."""
    name = "READER consumes orders through its group"
    orders, group = task.topics["orders"], task.groups["reader"]
    if got.denied == TOPIC_DENIED or (got.denied and topic_denied == TOPIC_DENIED):
        return Check(
            name,
            False,
            f"the broker answered READER {TOPIC_DENIED} on {orders}"
            + (f" (and {got.denied} on the group)" if got.denied == GROUP_DENIED else "")
            + ": no ALLOW rule lets it read that topic",
            fix="add an AclBinding: ResourceType.TOPIC, ORDERS, ResourcePatternType.LITERAL, "
            'READER, host "*", AclOperation.READ, AclPermissionType.ALLOW (and its twin for '
            "the GROUP)",
        )
    if got.denied == GROUP_DENIED or got.commit_error == GROUP_DENIED:
        return Check(
            name,
            False,
            f"the broker answered READER {GROUP_DENIED} on the group {group}: the topic is "
            "allowed, but a consumer in a group also needs READ on the group",
            fix="add an AclBinding for ResourceType.GROUP, GROUP (LITERAL), READER, "
            "AclOperation.READ, AclPermissionType.ALLOW",
        )
    if got.commit_error:
        return Check(name, False, f"READER read orders, but its commit failed: {got.commit_error}")
    missing = set(expected) - set(got.values)
    if missing:
        return Check(
            name,
            False,
            f"READER got {len(got.values)} of the {len(expected)} records of {orders} in 20 s, "
            "and no refusal",
            fix=BINDINGS_FIX,
        )
    if offsets.get(0) != len(expected):
        return Check(
            name,
            False,
            f"READER read every record, but {group}'s committed offset is {offsets or 'none'}",
        )
    return Check(
        name,
        True,
        f"{len(expected)} records back as READER, offset {len(expected)} committed in {group}",
    )


def _refused_payments(denied: str, leaked: int, topic: str) -> Check:
    name = "READER is refused payments"
    if leaked:
        return Check(
            name,
            False,
            f"READER read {leaked} record(s) of {topic}: a rule also covers that topic",
            fix='name the topic exactly: ResourcePatternType.LITERAL and ORDERS, not "*" or '
            "a PREFIXED pattern",
        )
    if denied != TOPIC_DENIED:
        return Check(name, False, f"READER got neither records nor a refusal on {topic}")
    return Check(name, True, f"the broker answered {TOPIC_DENIED} on {topic}, 0 records read")


def _cannot_write(error: str, landed: bool, topic: str) -> Check:
    name = "READER cannot write to orders"
    if landed:
        return Check(
            name,
            False,
            f"READER's record is on {topic}: a rule lets it WRITE",
            fix="grant AclOperation.READ only (not ALL, not WRITE): reading needs no write",
        )
    if error != TOPIC_DENIED:
        return Check(name, False, f"READER's write was not refused by the broker ({error})")
    return Check(name, True, f"the broker answered {TOPIC_DENIED} to READER's record")


def least_privilege(bindings: list[AclBinding], topic: str, group: str) -> Check:
    """No ALLOW beyond READ/DESCRIBE on `topic` and `group`, each named LITERAL (public: the
    unit tests feed it bindings a broker would list)."""
    name = "READER's ACLs grant nothing else"
    allowed = {(ResourceType.TOPIC, topic), (ResourceType.GROUP, group)}
    for b in bindings:
        if b.permission_type != AclPermissionType.ALLOW:
            continue  # a DENY only takes away
        what = (
            f"ALLOW {b.operation.name} on {b.restype.name} {b.name!r} "
            f"({b.resource_pattern_type.name})"
        )
        if b.name == "*" or b.operation == AclOperation.ALL:
            why = "a wildcard" if b.name == "*" else "ALL"
            return Check(
                name,
                False,
                f"{what}: {why} grants more than READER needs",
                fix=BINDINGS_FIX,
            )
        loose = b.resource_pattern_type != ResourcePatternType.LITERAL
        if loose or (b.restype, b.name) not in allowed or b.operation not in LEAST:
            return Check(name, False, f"{what} is more than READER needs", fix=BINDINGS_FIX)
    grants = sum(b.permission_type == AclPermissionType.ALLOW for b in bindings)
    return Check(name, True, f"{grants} ALLOW rule(s), READ/DESCRIBE on {topic} and {group} only")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    orders, payments = task.topics["orders"], task.topics["payments"]
    group = task.groups["reader"]
    principal = f"User:{task.params['username']}"
    bindings = _acls(lab.admin(), principal)
    reader = lab.conn.as_user(task.params["username"], task.params["password"])

    got = _consume(reader, orders, group, RECORDS)
    offsets = committed(lab.conn, group, orders) if got.values else {}
    topic_denied = _fetch(reader, orders)[0] if got.denied else ""
    denied, leaked = _fetch(reader, payments)
    error, token = _produce(reader, orders)
    landed = any(r.text == token for r in read_all(lab.conn, orders))
    elsewhere = _consume(reader, orders, lab.group("elsewhere"), 1)

    checks = [
        _reads_orders(got, topic_denied, task.private["orders"], offsets, task),
        _refused_payments(denied, leaked, payments),
        _cannot_write(error, landed, orders),
        least_privilege(bindings, orders, group),
    ]
    truths: dict[str, Any] = {
        "produce": error or WRITTEN,  # the choice text, or the broker's other answer
        "group": elsewhere.denied or (RECORDS_BACK if elsewhere.values else "no answer"),
    }
    return Graded(checks, truths)
