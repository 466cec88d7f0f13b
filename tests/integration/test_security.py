"""Secure mode on a real broker: SASL_SSL only, SCRAM users, the StandardAuthorizer and ACLs,
sealed card numbers and the audit trail. One secured platform for the module.

The checks are the ones `kafkalab scenario security` runs. The broker-facing ones are also run
against the session's plain cluster (no TLS, no SASL, no authorizer), where they must report ✘:
a check that passed there would prove nothing about the ACLs.
"""

from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from kafkalab import clients
from kafkalab.catalogue.services import group_id, service_port
from kafkalab.cluster import connect
from kafkalab.connection import Connection
from kafkalab.events import topics as t
from kafkalab.events.serde import Event, now_ms
from kafkalab.observe.trace import read_events
from kafkalab.scenarios import security
from kafkalab.security import fields, material
from kafkalab.security.audit import AuditLog
from kafkalab.services.runtime import Service
from kafkalab.settings import Settings, settings_env
from tests.helpers import free_port, run_cli
from tests.integration.pool import Running

pytestmark = pytest.mark.integration

STARTED_MS = now_ms()


@pytest.fixture(scope="module")
def secure(secure_platform: Running) -> Running:
    """The session's secure platform; its connection is admin's, as kafkalab's commands use."""
    return secure_platform


def test_the_cluster_is_secure_and_its_secrets_are_private(secure: Running) -> None:
    settings = secure.settings
    assert secure.conn.secure_mode and secure.conn.security_protocol == "SASL_SSL"
    assert secure.conn.bootstrap_servers.endswith(f":{settings.secure_port}")
    files = material.SecurityFiles.of(settings)
    for path in [*files.folder.iterdir(), settings.data_dir / "broker-1" / "server.properties"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    admin_password = material.password(settings, material.ADMIN)
    for log in settings.data_dir.rglob("*.log"):
        assert admin_password not in log.read_text(errors="replace"), log


def test_order_without_token_is_refused_and_audited(secure: Running) -> None:
    since = now_ms()
    with httpx.Client(timeout=30) as http:
        check = security.order_without_token(secure.settings, http)
    assert check.ok, check.detail
    assert check.detail == "HTTP 401"
    records = _denials(secure.conn, since, lambda v: v["resource"] == "/orders")
    assert records and records[0]["principal"] == "anonymous"
    assert records[0]["reporter"] == "order" and records[0]["reason"] == "401"


def test_no_credentials_cannot_connect(secure: Running) -> None:
    audit = AuditLog(secure.conn, "test")
    check = security.no_credentials(secure.conn, audit)
    assert audit.flush(30) == 0  # the refusals are on `audit` (checked at the end)
    assert check.ok, check.detail
    assert "plaintext" in check.detail and "wrong password" in check.detail


def test_no_credentials_check_fails_on_a_plain_cluster(conn: Connection) -> None:
    check = security.no_credentials(conn)
    assert not check.ok
    assert "plaintext" in check.detail


def test_rogue_is_denied_payments_by_the_broker(secure: Running) -> None:
    audit = AuditLog(secure.conn, "test")
    check = security.rogue_denied(secure.settings, secure.conn, audit)
    assert audit.flush(30) == 0
    assert check.ok, check.detail
    assert "TOPIC_AUTHORIZATION_FAILED" in check.detail


def test_rogue_check_fails_without_the_authorizer(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    """Same check, same rogue principal, on the session cluster (no authorizer): it reads."""
    topic = unique("payments")
    producer = clients.producer(conn)
    producer.produce(topic, key=b"o-1", value=b"a payment")
    assert producer.flush(30) == 0
    check = security.rogue_denied(cluster, conn, topic=topic, timeout=60)
    assert not check.ok
    assert "read a record" in check.detail


def test_a_service_principal_cannot_read_another_services_topic(secure: Running) -> None:
    """notification's own credentials work, but payments is not among its topics."""
    as_notification = connect.resolve(secure.settings, "notification")
    consumer = clients.consumer(as_notification, "kafkalab-notification-acl-test")
    try:
        answer = consumer.list_topics(t.PAYMENTS, timeout=20).topics[t.PAYMENTS].error
        own = consumer.list_topics(t.ORDER_EVENTS, timeout=20).topics[t.ORDER_EVENTS].error
    finally:
        consumer.close()
    assert answer is not None and answer.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert own is None


def test_card_number_on_payments_is_ciphertext(secure: Running) -> None:
    with httpx.Client(timeout=30) as http:
        check = security.card_is_ciphertext(
            secure.settings, secure.conn, http, STARTED_MS, timeout=120
        )
    assert check.ok, check.detail
    # payment opened it (only it can) and said so in the audit trail. The audit record comes
    # from payment's own (non-transactional) audit producer: it may land after the payment.
    opened: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not opened and time.monotonic() < deadline:
        opened = [
            e.value
            for e in read_events(secure.conn, (t.AUDIT,), since_ms=STARTED_MS)
            if e.value["action"] == "decrypt card" and e.value["outcome"] == "ALLOWED"
        ]
        time.sleep(0 if opened else 0.5)
    assert opened and all(v["reporter"] == "payment" for v in opened)


def test_audit_trail_holds_the_denials(secure: Running) -> None:
    """Runs after the checks above in this module, which left their denials on `audit`."""
    check = security.audit_holds_denials(secure.conn, STARTED_MS, timeout=60)
    assert check.ok, check.detail


def test_audit_check_fails_when_nothing_was_denied(secure: Running) -> None:
    check = security.audit_holds_denials(secure.conn, now_ms() + 60_000, timeout=3)
    assert not check.ok
    assert "missing" in check.detail


def test_the_whole_scenario_from_the_cli(secure: Running) -> None:
    result = run_cli("scenario", "security", env=settings_env(secure.settings))
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "every claim holds" in result.stdout
    assert result.stdout.count("✔") >= 6  # five checks + the summary line


def _denials(
    conn: Connection, since: int, match: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [
            e.value
            for e in read_events(conn, (t.AUDIT,), since_ms=since)
            if e.value["outcome"] == "DENIED" and match(e.value)
        ]
        if found:
            return found
        time.sleep(1)
    return []


def test_contact_details_are_sealed_on_users(secure: Running) -> None:
    """user seals e-mail and phone for notification; payment, which also reads `users`, sees
    only ciphertext. The happy path below shows notification can still open them."""
    since = now_ms()
    email = f"sealed.{since}@example.com"
    body = {
        "email": email,
        "name": "Sealed",
        "password": "correct-horse-1",
        "phone": "+44 7700 900123",
    }
    url = f"http://{secure.settings.host}:{service_port(secure.settings, 'user')}/users"
    response = httpx.post(url, json=body, timeout=30)
    assert response.status_code == 201
    user_id = response.json()["user_id"]
    deadline, profile = time.monotonic() + 60, None
    while profile is None and time.monotonic() < deadline:
        for event in read_events(secure.conn, (t.USERS, t.USER_EVENTS), since_ms=since):
            if event.value.get("user_id") == user_id and event.type == "UserProfile":
                profile = event.value
        time.sleep(0.5)
    assert profile is not None
    assert fields.is_sealed(profile["email"]) and fields.is_sealed(profile["phone"])
    assert email not in str(profile) and "900123" not in str(profile)


def test_happy_path_runs_over_sasl_ssl(secure: Running) -> None:
    result = run_cli("scenario", "happy-path", env=settings_env(secure.settings))
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "every expectation holds" in result.stdout


def test_a_service_refused_a_topic_names_lesson_18_in_its_log(
    secure: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """A service planted to read a topic its principal has no ACL for: its log line carries the
    broker's TOPIC_AUTHORIZATION_FAILED and the lesson that explains it."""

    class Planted(Service):
        name = "planted"
        subscriptions = (t.PAYMENTS,)

        def handle(self, event: Event) -> None:  # never reached: the broker refuses the read
            raise AssertionError(event)

    Planted.__module__ = __name__
    # Its group is allowed, so what the broker refuses is the topic, not the group.
    allow = (
        ResourceType.GROUP,
        group_id(Planted.name),
        ResourcePatternType.LITERAL,
        "User:notification",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    admin = clients.admin(secure.conn)
    for future in admin.create_acls([AclBinding(*allow)], request_timeout=30).values():
        future.result(timeout=30)
    as_notification = connect.resolve(secure.settings, "notification")
    service = Planted(secure.settings, as_notification, port=free_port())
    thread = threading.Thread(target=service.run, daemon=True)
    caplog.set_level(logging.WARNING, logger="kafkalab.service")
    thread.start()
    try:
        deadline, lines = time.monotonic() + 30, []
        while not lines and time.monotonic() < deadline:
            time.sleep(0.2)
            lines = [
                r.getMessage() for r in caplog.records if "TOPIC_AUTHORIZATION" in r.getMessage()
            ]
    finally:
        service.stopping.set()
        thread.join(20)
        for future in admin.delete_acls([AclBindingFilter(*allow)], request_timeout=30).values():
            future.result(timeout=30)
    assert lines, [r.getMessage() for r in caplog.records]
    assert lines[0].endswith("see `kafkalab lesson 18 --explain`"), lines[0]


def test_the_refund_service_s_own_user_may_do_what_it_does_and_no_more(secure: Running) -> None:
    """`up --secure --with refund` logs the learner's refund service in as `refund`: the broker
    lets that user open its one transactional id and see its topics, and refuses another id
    and another service's topic (no refund service needs to run for its user to exist)."""
    from confluent_kafka import KafkaException, Producer

    as_refund = connect.resolve(secure.settings, "refund")

    def init(transactional_id: str) -> KafkaError | None:
        producer = Producer({**as_refund.librdkafka(), "transactional.id": transactional_id})
        try:
            producer.init_transactions(20)
        except KafkaException as exc:
            return exc.args[0]
        return None

    assert init("kafkalab-refund-0") is None
    refused = init("kafkalab-refund-1")
    assert refused is not None
    assert refused.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    consumer = clients.consumer(as_refund, "kafkalab-refund")
    try:
        theirs = consumer.list_topics(t.NOTIFICATIONS, timeout=20).topics[t.NOTIFICATIONS].error
        own = consumer.list_topics(t.REFUNDS, timeout=20).topics[t.REFUNDS].error
    finally:
        consumer.close()
    assert own is None
    assert theirs is not None and theirs.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
