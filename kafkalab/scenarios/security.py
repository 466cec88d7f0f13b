"""`kafkalab scenario security`: the secure claims, each shown and checked against the real
broker and the topics, never against what our own code believes.

Each check is a function of its own that returns a Check, so the tests can run the same
check against a cluster without security and see it report ✘ — proof that it can fail.

On a secure platform (`kafkalab up --secure`) every check runs there (`run`). On a plain one
the broker's claims are checked on a side secure cluster started for the scenario and deleted
after it (`run_on_side`, as lesson 18 does), so the user's cluster is never wiped: the 401 is
the plain platform's order service's, and the card is sealed by the order service's own code,
since no service runs on the side cluster.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kafkalab import clients, verdict
from kafkalab.catalogue.services import service_port
from kafkalab.connection import Connection
from kafkalab.events import topics as t
from kafkalab.events.serde import Event, now_ms
from kafkalab.events.topics import apply_catalogue
from kafkalab.observe.trace import read_events
from kafkalab.security import fields, material
from kafkalab.security.audit import AuditEntry, AuditLog
from kafkalab.security.provision import upsert_users
from kafkalab.settings import Settings
from kafkalab.verdict import Check

Notify = Callable[[str], None]
ROGUE = "rogue"
REPORTER = "kafkalab-scenario"
CARD = "4111111111111111"
_QUIET = logging.getLogger("librdkafka.security-check")
"""Refused connections are the point of one check: their librdkafka chatter is not news."""
ORDER_BODY: dict[str, Any] = {"items": [{"sku": "SKU-BOOK", "quantity": 1}], "card_number": CARD}


@dataclass
class SecurityResult:
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    where: str = "the secure platform"
    """Where the broker's claims were checked: this platform, or a side secure cluster."""

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks)


def run(
    settings: Settings, conn: Connection, notify: Notify | None = None, timeout: float = 60.0
) -> SecurityResult:
    """Every check in order; the audit check last, as it looks for the others' denials.
    `conn` is the super user's (admin): the rogue's user and ACL are created with it."""
    say = notify or (lambda _m: None)
    started, since = time.monotonic(), now_ms()
    audit = AuditLog(conn, REPORTER)
    result = SecurityResult()
    with httpx.Client(timeout=30) as http:
        say("POST /orders without a token")
        result.checks.append(order_without_token(settings, http))
        say("connecting to the SASL_SSL listener without credentials")
        result.checks.append(no_credentials(conn, audit))
        say(f"reading {t.PAYMENTS} as '{ROGUE}', a valid user without topic ACLs")
        result.checks.append(rogue_denied(settings, conn, audit))
        say("placing an order and reading its payment back from the topic")
        result.checks.append(card_is_ciphertext(settings, conn, http, since, timeout))
    audit.flush()
    say("reading the audit trail")
    result.checks.append(audit_holds_denials(conn, since, timeout))
    result.seconds = time.monotonic() - started
    return result


SIDE_FOLDER = "scenario-security-cluster"


def run_on_side(
    settings: Settings, conn: Connection, notify: Notify | None = None, timeout: float = 60.0
) -> SecurityResult:
    """The checks for a plain platform (`conn`, its services running): the 401 from its order
    service, audited on its own `audit` topic; the broker's claims (no credentials, the rogue
    denied, a sealed card on `payments`, their audit records) on a side secure cluster that
    holds the shop's topics and is deleted afterwards."""
    from kafkalab.cluster.side import side_cluster  # a JVM start: only on this path

    say = notify or (lambda _m: None)
    started, since = time.monotonic(), now_ms()
    result = SecurityResult()
    with httpx.Client(timeout=30) as http:
        say("POST /orders without a token (this platform's order service)")
        result.checks.append(order_without_token(settings, http))
    say("starting a side secure cluster for the broker's claims (your cluster is left alone)")
    with side_cluster(settings, SIDE_FOLDER, secure=True, notify=notify) as side:
        result.where = (
            f"a side secure cluster at {side.conn.bootstrap_servers} (SASL_SSL, SCRAM, ACLs), "
            "started for this run and deleted after it"
        )
        apply_catalogue(clients.admin(side.conn))
        audit = AuditLog(side.conn, REPORTER)
        say("connecting to the side cluster's SASL_SSL listener without credentials")
        result.checks.append(no_credentials(side.conn, audit))
        say(f"reading {t.PAYMENTS} as '{ROGUE}', a valid user without topic ACLs")
        result.checks.append(rogue_denied(side.settings, side.conn, audit))
        say("sealing a card as the order service does and reading it back from the topic")
        result.checks.append(card_sealed_on_the_topic(side.settings, side.conn))
        audit.flush()
        say("reading the audit trails")
        result.checks.append(
            audit_holds_denials(side.conn, since, timeout, only=_BROKER_DENIALS, where="side")
        )
    result.checks.append(
        audit_holds_denials(conn, since, timeout, only=(_ORDER_401,), where="this platform")
    )
    result.seconds = time.monotonic() - started
    return result


def card_sealed_on_the_topic(settings: Settings, conn: Connection) -> Check:
    """Without services on the cluster: a PaymentCompleted-like record whose card is sealed by
    `fields.seal` with payment's public key, bound to the order (what the order service does),
    must hold ciphertext on `payments` — read back from the broker — and open with the key."""
    name = f"a card sealed as the order service seals it is ciphertext on {t.PAYMENTS}"
    key, private = fields.sealer(settings, "card"), fields.opener(settings, "card")
    if key is None or private is None:
        return Check(name, False, "the cluster has no card key pair (not secure)")
    order_id = f"order-sec-{uuid.uuid4().hex[:8]}"
    sealed = fields.seal(key, CARD, purpose="card", binding=order_id)
    record = {"order_id": order_id, "amount_cents": 1299, "card_number": sealed}
    producer = clients.producer(conn)
    producer.produce(t.PAYMENTS, key=order_id, value=json.dumps(record).encode())
    if producer.flush(30):
        return Check(name, False, f"the record was not written to {t.PAYMENTS}")
    consumer = clients.consumer(conn, f"kafkalab-scenario-{uuid.uuid4().hex[:8]}")
    raw = b""
    try:
        consumer.assign([TopicPartition(t.PAYMENTS, p, OFFSET_BEGINNING) for p in range(6)])
        deadline = time.monotonic() + 30
        while not raw and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None and msg.key() == order_id.encode():
                raw = msg.value() or b""
    finally:
        consumer.close()
    if not raw:
        return Check(name, False, f"the record did not come back from {t.PAYMENTS}")
    if CARD.encode() in raw:
        return Check(name, False, "the clear card number is in the record")
    on_topic = str(json.loads(raw)["card_number"])
    if fields.open_sealed(private, on_topic, "card", order_id) != CARD:
        return Check(name, False, "payment's key does not open the sealed card")
    return Check(name, True, f"card_number = {on_topic[:24]}… ({len(on_topic)} chars)")


def order_without_token(settings: Settings, http: httpx.Client) -> Check:
    """The order service answers 401 to an anonymous order (its own audit record is checked
    by `audit_holds_denials`)."""
    name = "order without a token is refused (401)"
    url = f"http://{settings.host}:{service_port(settings, 'order')}/orders"
    try:
        response = http.post(url, json=ORDER_BODY)
    except httpx.HTTPError as exc:
        return Check(name, False, f"order service did not answer: {exc}")
    return Check(name, response.status_code == 401, f"HTTP {response.status_code}")


def no_credentials(conn: Connection, audit: AuditLog | None = None) -> Check:
    """Plaintext, TLS without SASL, and a wrong password must all fail to get metadata from the
    client listener (in secure mode the SASL_SSL one: no port speaks plaintext there)."""
    name = "no credentials, no connection to the secure listener"
    target = conn.bootstrap_servers
    ca = conn.ssl_ca_location
    attempts: dict[str, dict[str, Any]] = {"plaintext": {"security.protocol": "PLAINTEXT"}}
    if ca is not None:
        attempts["TLS, no SASL"] = {"security.protocol": "SSL", "ssl.ca.location": ca}
        attempts["wrong password"] = {
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": ca,
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": material.ADMIN,
            "sasl.password": "not-the-password",
        }

    def attempt(conf: dict[str, Any]) -> Exception | None:
        """None when metadata came back (the stranger got in), else why not."""
        admin = AdminClient({"bootstrap.servers": target, "log_level": 0, "logger": _QUIET, **conf})
        try:
            admin.list_topics(timeout=8)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure to get metadata is a refusal
            return exc

    # At once, not one after another: a refused client only gives up at its timeout.
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        outcomes = dict(zip(attempts, pool.map(attempt, attempts.values()), strict=True))
    connected = [label for label, why in outcomes.items() if why is None]
    refused = {label: why for label, why in outcomes.items() if why is not None}
    for label, why in refused.items():
        if audit is not None:
            audit.record(
                AuditEntry(
                    "anonymous",
                    "kafka connect",
                    f"listener {target}",
                    False,
                    f"{label}: {_short(why)}",
                )
            )
    if connected:
        return Check(name, False, f"connected to {target} with: {', '.join(connected)}")
    return Check(name, True, f"{target} refused: {', '.join(refused)}")


def rogue_denied(
    settings: Settings,
    conn: Connection,
    audit: AuditLog | None = None,
    topic: str = t.PAYMENTS,
    timeout: float = 30.0,
) -> Check:
    """A principal with valid credentials reads `topic`: the broker must answer
    TOPIC_AUTHORIZATION_FAILED. The rogue may use its own consumer groups (`rogue-…`), so the
    denial is the topic's and not the group's; it has no ACL on any topic."""
    name = f"'{ROGUE}' (valid credentials, no topic ACLs) is denied reading {topic} by the broker"
    rogue = conn
    if conn.secure_mode:
        material.ensure_material(settings, extra_principals=(ROGUE,))
        passwords = material.read_passwords(material.SecurityFiles.of(settings))
        admin = clients.admin(conn)
        upsert_users(admin, {ROGUE: passwords[ROGUE]})
        rogue = conn.as_user(ROGUE, passwords[ROGUE])
        own_groups = AclBinding(
            ResourceType.GROUP,
            f"{ROGUE}-",
            ResourcePatternType.PREFIXED,
            f"User:{ROGUE}",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
        for future in admin.create_acls([own_groups], request_timeout=30).values():
            future.result(timeout=30)
    consumer = clients.consumer(
        rogue, f"{ROGUE}-{uuid.uuid4().hex[:8]}", **{"enable.auto.commit": False, "log_level": 0}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(6)])
    deadline = time.monotonic() + timeout
    last = "nothing came back"
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            error = msg.error() if msg is not None else None
            if msg is not None and error is None:
                return Check(
                    name, False, f"{ROGUE} read a record from {topic} (offset {msg.offset()})"
                )
            if error is None or error.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
                # librdkafka does not always turn a denied topic into a consumer error; the
                # broker's Metadata answer for the topic carries the same error code.
                last = error.name() if error is not None else last
                error = consumer.list_topics(topic, timeout=10).topics[topic].error
            if error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                if audit is not None:
                    denial = AuditEntry(
                        f"User:{ROGUE}", "kafka read", f"topic:{topic}", False, error.name()
                    )
                    audit.record(denial)
                return Check(name, True, f"Kafka answered {error.name()}")
            if error is not None:
                last = error.name()
    finally:
        consumer.close()
    return Check(name, False, f"no TOPIC_AUTHORIZATION_FAILED within {timeout:.0f} s ({last})")


def card_is_ciphertext(
    settings: Settings, conn: Connection, http: httpx.Client, since_ms: int, timeout: float = 60.0
) -> Check:
    """Register, log in, order with a known card; its PaymentCompleted on `payments` must carry
    the card sealed (enc:v1:…) and the digits nowhere in the record."""
    name = f"the card number on {t.PAYMENTS} is ciphertext"
    try:
        order_id = _place_order(settings, http)
    except (httpx.HTTPError, RuntimeError) as exc:
        return Check(name, False, f"could not place an order: {exc}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in read_events(conn, (t.PAYMENTS,), since_ms=since_ms):
            if event.type == "PaymentCompleted" and event.value.get("order_id") == order_id:
                return _judge_card(name, event)
        time.sleep(1.0)
    return Check(name, False, f"no PaymentCompleted for order {order_id} within {timeout:.0f} s")


def _judge_card(name: str, event: Event) -> Check:
    sealed = str(event.value.get("card_number", ""))
    if CARD in json.dumps(event.value):
        return Check(name, False, f"the clear card number is in offset {event.offset}")
    if not fields.is_sealed(sealed):
        return Check(name, False, f"card_number is {sealed!r}, not sealed")
    return Check(name, True, f"card_number = {sealed[:24]}… ({len(sealed)} chars)")


_ORDER_401 = "401 on /orders (order)"
_BROKER_DENIALS = ("connection without credentials", f"{ROGUE} reading {t.PAYMENTS}")
_DENIALS: dict[str, Callable[[dict[str, Any]], bool]] = {
    _ORDER_401: lambda v: v["resource"] == "/orders" and v["reporter"] == "order",
    _BROKER_DENIALS[0]: lambda v: v["action"] == "kafka connect",
    _BROKER_DENIALS[1]: lambda v: (
        v["principal"] == f"User:{ROGUE}" and v["resource"] == f"topic:{t.PAYMENTS}"
    ),
}


def audit_holds_denials(
    conn: Connection,
    since_ms: int,
    timeout: float = 60.0,
    only: tuple[str, ...] | None = None,
    where: str = "",
) -> Check:
    """The `audit` topic holds, since the scenario began: the 401 (written by the order
    service), the refused connection and the rogue's denied read (or `only` those named)."""
    name = "the audit trail holds the denied attempts" + (f" ({where})" if where else "")
    wanted = {label: match for label, match in _DENIALS.items() if only is None or label in only}
    deadline = time.monotonic() + timeout
    missing = list(wanted)
    while time.monotonic() < deadline:
        denied = [
            e.value
            for e in read_events(conn, (t.AUDIT,), since_ms=since_ms)
            if e.value.get("outcome") == "DENIED"
        ]
        missing = [label for label, match in wanted.items() if not any(match(v) for v in denied)]
        if not missing:
            return Check(name, True, f"{len(denied)} denied record(s), each expected kind present")
        time.sleep(1.0)
    return Check(name, False, f"missing: {', '.join(missing)}")


def _place_order(settings: Settings, http: httpx.Client) -> str:
    def url(service: str, path: str) -> str:
        return f"http://{settings.host}:{service_port(settings, service)}{path}"

    run_id = uuid.uuid4().hex[:8]
    email, password = f"sec.{run_id}@example.com", f"correct-horse-{run_id}"
    user = {
        "email": email,
        "name": "Sec Check",
        "password": password,
        "phone": "+44 7700 900001",
        "balance_cents": 100_000,
    }
    for path, body, expected in (
        ("/users", user, 201),
        ("/login", {"email": email, "password": password}, 200),
    ):
        response = http.post(url("user", path), json=body)
        if response.status_code != expected:
            raise RuntimeError(f"POST {path} answered {response.status_code}")
    token = response.json()["token"]
    response = http.post(
        url("order", "/orders"), json=ORDER_BODY, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /orders answered {response.status_code}: {response.text[:200]}")
    return str(response.json()["order_id"])


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
