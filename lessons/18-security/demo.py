"""Lesson 18: SASL/SCRAM over TLS, strangers refused, a rogue denied by the broker's ACLs, a
certificate as a login (mutual TLS), a card sealed before it reaches the topic, and the audit
trail of it all — on a secure side cluster."""

from __future__ import annotations

import json
import logging
import ssl
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from cryptography import x509
from cryptography.x509.oid import NameOID

from kafkalab import clients
from kafkalab.cluster.config import MTLS, node_specs
from kafkalab.connection import Connection
from kafkalab.curriculum.lab import Lab, LessonSetupFailed, group_prefix
from kafkalab.events import topics as t
from kafkalab.events.serde import now_ms
from kafkalab.observe.trace import read_events
from kafkalab.scenarios.security import CARD, ROGUE
from kafkalab.security import fields, material
from kafkalab.security.audit import AuditEntry, AuditLog
from kafkalab.security.provision import upsert_users
from kafkalab.settings import Settings

from .check import Seen

QUIET = {"log_level": 0}  # the refusals are the point: librdkafka's complaints about them are not
CERT_USER = "dashboard"
"""The mTLS client: its certificate says CN=dashboard,OU=kafkalab, the broker maps it to this."""


def demo(lab: Lab) -> Seen:
    lab.say("Starting a secure cluster of the lesson's own (your cluster is left alone): ~15 s.")
    since = now_ms()
    with lab.side_cluster(secure=True) as side:
        # kafkalab's tools connect as `admin`, the one principal in super.users.
        conf = side.conn.librdkafka()
        admin = clients.admin(side.conn)
        connected = bool(admin.list_topics(timeout=15).brokers)
        host, port = side.conn.bootstrap_servers.split(",")[0].rsplit(":", 1)
        # Not what we configured but what the broker runs: its listener on that port, the SASL
        # mechanisms it accepts there, and the SCRAM credential it holds for admin.
        protocol, mechanisms = listener_of(admin, f"{host}:{port}")
        admin_scram = scram_mechanisms(admin, material.ADMIN)
        issuer = _tls_issuer(host, int(port), material.SecurityFiles.of(side.settings).ca_cert)
        lab.show(
            "SCRAM over TLS, as kafkalab's Connection hands it to librdkafka",
            [
                ("security.protocol", conf["security.protocol"]),
                ("sasl.mechanism", conf["sasl.mechanism"]),
                ("sasl.username", conf["sasl.username"]),
                ("sasl.password", "•••• (read from a 0600 file, never from argv or env)"),
                ("certificate on :" + port, f"signed by {issuer!r}"),
            ],
        )
        lab.show(
            f"what the broker says about :{port} (describe_configs, DescribeUserScramCredentials)",
            [
                ("listener protocol", protocol),
                ("SASL mechanisms it accepts", ", ".join(mechanisms) or "none"),
                ("admin's SCRAM credential", ", ".join(admin_scram) or "none"),
            ],
        )

        audit = AuditLog(side.conn, reporter=f"lesson18-{lab.run_id}")
        _create(admin, t.AUDIT, 3)
        lab.say("Knocking without valid credentials: plaintext, TLS alone, a wrong password.")
        refused = _strangers(side.conn, audit)
        lab.table("the secure port's answer", ["attempt", "refused because"], list(refused.items()))

        payments, catalogue = lab.topic("payments", on=side), lab.topic("catalogue", on=side)
        order_id = f"order-{lab.run_id}"
        key, private = fields.sealer(side.settings, "card"), fields.opener(side.settings, "card")
        if key is None or private is None:
            raise LessonSetupFailed("the secure cluster has no card key pair")
        # Sealed for the payment service's public key, bound to this order: the broker, the
        # disk and every other consumer see only ciphertext.
        sealed = fields.seal(key, CARD, purpose="card", binding=order_id)
        producer = clients.producer(side.conn)
        record = {"order_id": order_id, "amount_cents": 1299, "card_number": sealed}
        producer.produce(payments, key=order_id, value=json.dumps(record).encode())
        producer.produce(catalogue, key="SKU-BOOK", value=b'{"sku": "SKU-BOOK"}')
        producer.flush(30)
        raw = b"".join(_read(clients.consumer(side.conn, lab.group("admin")), payments, 1))
        if not raw:
            raise LessonSetupFailed(f"the payment written to {payments} did not come back")
        # Only payment holds the private key; the order id is GCM's associated data.
        opened = fields.open_sealed(private, sealed, "card", order_id)
        try:
            fields.open_sealed(private, sealed, "card", "order-someone-else")
            moved_refused = False
        except fields.FieldUnreadable:
            moved_refused = True
        segment = b"".join(
            p.read_bytes() for p in side.settings.data_dir.rglob(f"{payments}-0/*.log")
        )
        lab.show(
            f"the record on {payments}",
            [("raw value", raw[:90].decode() + "…"), ("opened by the key holder", opened)],
        )

        lab.say(
            f"'{ROGUE}' gets a SCRAM login, ALLOW READ on lesson18.*, and DENY ALL on payments."
        )
        _enrol_rogue(side.settings, admin, payments, group_prefix(lab.lesson))
        rogue = side.conn.as_user(ROGUE, material.password(side.settings, ROGUE))
        allowed = _read(clients.consumer(rogue, lab.group("rogue-a"), **QUIET), catalogue, 1)
        code, name, leaked = _try_read(
            clients.consumer(rogue, lab.group("rogue-b"), **QUIET), payments
        )
        if code is not None:
            audit.record(
                AuditEntry(f"User:{ROGUE}", "kafka read", f"topic:{payments}", False, name)
            )
        log_line = _broker_denial(side.settings, payments, f"User:{ROGUE}")
        lab.show(
            f"{ROGUE} reading {payments}",
            [
                ("Kafka error", f"{code} {name}"),
                ("broker log", log_line[log_line.find("Principal") :][:100] + "…"),
            ],
        )

        mtls = _certificate_login(lab, side.settings, admin, catalogue, payments, audit)

        audit.flush()
        trail = [
            {k: str(v) for k, v in e.value.items()}
            for e in read_events(side.conn, (t.AUDIT,), since_ms=since)
            if e.value.get("reporter") == audit.reporter
        ]
        lab.table(
            "the audit trail (topic `audit`)",
            ["principal", "action", "outcome", "reason"],
            [[r["principal"], r["action"], r["outcome"], r["reason"][:60]] for r in trail],
        )
        return Seen(
            listener_protocol=protocol,
            listener_mechanisms=mechanisms,
            admin_scram=admin_scram,
            tls_issuer=issuer,
            admin_connected=connected,
            refused=refused,
            rogue_allowed_read=len(allowed),
            rogue_error_code=code,
            rogue_error_name=name,
            rogue_read_payments=leaked,
            broker_log_denial=log_line,
            card_in_record=CARD.encode() in raw,
            card_on_disk=CARD.encode() in segment,
            segment_bytes=len(segment),
            sealed_value=str(json.loads(raw)["card_number"]),
            opened=opened,
            moved_refused=moved_refused,
            **mtls,
            audit=trail,
        )


def listener_of(admin: AdminClient, address: str) -> tuple[str, list[str]]:
    """The security protocol of the broker's listener at `address` (host:port), and the SASL
    mechanisms that listener accepts (none unless it speaks SASL), read with describe_configs
    from the broker that advertises it."""
    brokers = admin.list_topics(timeout=10).brokers.values()
    broker = next((b for b in brokers if f"{b.host}:{b.port}" == address), None)
    if broker is None:
        return "unknown", []
    found = admin.describe_configs([ConfigResource("broker", str(broker.id))])
    config = {k: v.value or "" for k, v in next(iter(found.values())).result(30).items()}
    names = {
        url.split("://", 1)[1]: url.split("://", 1)[0]
        for url in config.get("advertised.listeners", "").split(",")
        if "://" in url
    }
    listener = names.get(address, "")
    protocols = dict(
        pair.split(":", 1)
        for pair in config.get("listener.security.protocol.map", "").split(",")
        if ":" in pair
    )
    protocol = protocols.get(listener, "unknown")
    if not protocol.startswith("SASL_"):
        return protocol, []
    accepted = config.get(
        f"listener.name.{listener.lower()}.sasl.enabled.mechanisms"
    ) or config.get("sasl.enabled.mechanisms", "")
    return protocol, [m.strip() for m in accepted.split(",") if m.strip()]


def scram_mechanisms(admin: AdminClient, user: str) -> list[str]:
    """The SCRAM mechanisms the broker holds a credential of `user` for ([] for none)."""
    try:
        found = admin.describe_user_scram_credentials([user])[user].result(30)
    except KafkaException:  # RESOURCE_NOT_FOUND: no SCRAM credential for that user
        return []
    return [info.mechanism.name.replace("_", "-") for info in found.scram_credential_infos]


def _tls_issuer(host: str, port: int, ca: Any) -> str:
    """The TLS handshake comes before any Kafka byte: a client that does not trust the CA stops here."""
    pem = ssl.get_server_certificate((host, port), ca_certs=str(ca), timeout=10)
    names = x509.load_pem_x509_certificate(pem.encode()).issuer
    return str(names.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _strangers(side: Connection, audit: AuditLog) -> dict[str, str]:
    ca = str(side.ssl_ca_location)
    tls = {"security.protocol": "SSL", "ssl.ca.location": ca}
    attempts: dict[str, dict[str, str]] = {
        "plaintext": {"security.protocol": "PLAINTEXT"},
        "TLS, no SASL": tls,
        "SCRAM, wrong password": {
            **tls,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": material.ADMIN,
            "sasl.password": "not-the-password",
        },
    }
    target = side.bootstrap_servers
    answers: dict[str, str] = {}
    for label, conf in attempts.items():
        answers[label] = _knock({"bootstrap.servers": target, **conf}, audit, label)
    return answers


def _knock(conf: dict[str, str], audit: AuditLog, label: str) -> str:
    """Why a client with `conf` got no metadata ("" = it got in); a refusal is audited."""
    heard = _Heard()  # librdkafka's own account of each refused connection
    stranger = AdminClient({**conf, "logger": heard.logger})
    why = ""  # stays empty only if metadata came back: the stranger got in
    for attempt in range(10):
        try:
            stranger.list_topics(timeout=1)
            break
        except Exception as exc:  # noqa: BLE001 - no metadata is the refusal
            stranger.poll(0.2)  # serves the log queue
            why = heard.cause() or _reason(exc)
            # librdkafka logs why a TLS or SASL login failed; a plaintext client on a TLS port
            # hears nothing but a closed connection, twice is enough to say so.
            if heard.cause() or attempt >= 2:
                break
    if why:
        where = f"listener {conf['bootstrap.servers']}"
        audit.record(AuditEntry("anonymous", "kafka connect", where, False, f"{label}: {why}"))
    return why[:90]


def _certificate_login(
    lab: Lab, side: Settings, admin: AdminClient, catalogue: str, payments: str, audit: AuditLog
) -> dict[str, Any]:
    """Mutual TLS on the broker's MTLS listener: refused without a client certificate, logged in
    as the principal its subject maps to with one, and allowed only what that principal's ACLs
    grant. Returns the Seen fields of this step."""
    node = node_specs(side, 1)[0]
    address = f"{side.host}:{node.port}"
    config = _broker_config(admin)
    prefix = f"listener.name.{MTLS.lower()}."
    client_auth = config.get(prefix + "ssl.client.auth", "")
    rule = config.get(prefix + "ssl.principal.mapping.rules", "")
    ca = str(material.SecurityFiles.of(side).ca_cert)
    tls_only = {"bootstrap.servers": address, "security.protocol": "SSL", "ssl.ca.location": ca}
    lab.say(
        f"The MTLS listener (:{node.port}) takes no password: the client's certificate is its "
        "login. First a client with none."
    )
    no_cert = _knock(tls_only, audit, "mTLS, no certificate")
    # kafkalab's CA issues a certificate for CN=dashboard,OU=kafkalab; the listener's
    # ssl.principal.mapping.rules turns that subject into User:dashboard.
    cert, key = material.client_certificate(side, CERT_USER)
    subject = x509.load_pem_x509_certificate(cert.read_bytes()).subject.rfc4514_string()
    principal = f"User:{CERT_USER}"
    grant = AclBinding(
        ResourceType.TOPIC,
        catalogue,
        ResourcePatternType.LITERAL,
        principal,
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([grant], request_timeout=30).values():
        future.result(timeout=30)
    with_cert = {
        **tls_only,
        "ssl.certificate.location": str(cert),  # presented in the TLS handshake
        "ssl.key.location": str(key),  # proves the client holds the certificate's key
        # assign() alone, and no commit: User:dashboard has no ACL on any group.
        "enable.auto.commit": False,
        **QUIET,
    }
    allowed = _read(Consumer({**with_cert, "group.id": lab.group(CERT_USER)}), catalogue, 1)
    code, name, leaked = _try_read(
        Consumer({**with_cert, "group.id": lab.group(f"{CERT_USER}-b")}), payments
    )
    denial = _broker_denial(side, payments, principal)
    lab.show(
        f"mutual TLS on :{node.port}",
        [
            ("ssl.client.auth (broker)", client_auth or "not set"),
            ("ssl.principal.mapping.rules", rule or "not set"),
            ("no certificate", f"refused: {no_cert}" if no_cert else "got in"),
            ("certificate subject", subject),
            (f"READ {catalogue} (ACL for {principal})", f"{len(allowed)} record(s)"),
            (f"READ {payments} (no ACL)", f"{code} {name}"),
            ("broker log", denial[denial.find("Principal") :][:100] + "…"),
        ],
    )
    return {
        "mtls_client_auth": client_auth,
        "mtls_no_cert_refused": no_cert,
        "cert_subject": subject,
        "cert_allowed_read": len(allowed),
        "cert_error_code": code,
        "cert_read_payments": leaked,
        "cert_broker_denial": denial,
    }


def _broker_config(admin: AdminClient) -> dict[str, str]:
    """Broker 1's configuration as it runs (describe_configs), listener-prefixed keys too."""
    found = admin.describe_configs([ConfigResource("broker", "1")])
    return {k: v.value or "" for k, v in next(iter(found.values())).result(30).items()}


class _Heard(logging.Handler):
    """Keeps librdkafka's FAIL log lines (why a connection ended) off the screen, for the table."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.logger = logging.getLogger(f"kafkalab.lesson18.stranger{id(self)}")
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def cause(self) -> str:
        failures = [line for line in self.lines if "FAIL" in line or "uthentication" in line]
        return failures[0].split("/bootstrap: ")[-1] if failures else ""


def _reason(exc: Exception) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


def _create(admin: AdminClient, topic: str, partitions: int) -> None:
    """Create `topic` unless the cluster has it already (a platform on it made it)."""
    futures = admin.create_topics([NewTopic(topic, partitions, 1)], request_timeout=30)
    try:
        futures[topic].result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def _enrol_rogue(side: Settings, admin: AdminClient, payments: str, group_prefix: str) -> None:
    material.ensure_material(side, extra_principals=(ROGUE,))
    upsert_users(admin, {ROGUE: material.password(side, ROGUE)})  # a real SCRAM login

    def acl(
        kind: ResourceType,
        name: str,
        pattern: ResourcePatternType,
        op: AclOperation,
        permission: AclPermissionType,
    ) -> AclBinding:
        return AclBinding(kind, name, pattern, f"User:{ROGUE}", "*", op, permission)

    prefixed, literal = ResourcePatternType.PREFIXED, ResourcePatternType.LITERAL
    allow, deny = AclPermissionType.ALLOW, AclPermissionType.DENY
    bindings = [
        acl(ResourceType.TOPIC, "lesson18.", prefixed, AclOperation.READ, allow),
        acl(ResourceType.GROUP, group_prefix, prefixed, AclOperation.READ, allow),
        # DENY wins over any ALLOW: the prefix above covers payments too, this takes it back.
        acl(ResourceType.TOPIC, payments, literal, AclOperation.ALL, deny),
    ]
    for future in admin.create_acls(bindings, request_timeout=30).values():
        future.result(timeout=30)


def _read(consumer: Any, topic: str, wanted: int, timeout: float = 30.0) -> list[bytes]:
    """Up to `wanted` values from the start of partition 0 (an ACL just created takes a moment)."""
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < wanted and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value() or b"")
    finally:
        consumer.close()
    return got


def _try_read(consumer: Any, topic: str, timeout: float = 30.0) -> tuple[int | None, str, int]:
    """What the broker answers the rogue: the Fetch (or, as librdkafka may only report it there,
    the Metadata request for the topic) carries Kafka's error code."""
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline, leaked = time.monotonic() + timeout, 0
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            error = msg.error() if msg is not None else None
            if msg is not None and error is None:
                leaked += 1
                continue
            if error is None or error.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
                error = consumer.list_topics(topic, timeout=10).topics[topic].error
            if error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                return error.code(), error.name(), leaked
    finally:
        consumer.close()
    return None, "no answer", leaked


def _broker_denial(side: Settings, topic: str, principal: str, timeout: float = 15.0) -> str:
    """StandardAuthorizer logs every denied request (logger kafka.authorizer.logger, INFO)."""
    log = node_specs(side, 1)[0].logs / "server.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if f"{principal} is Denied" in line and topic in line:
                return line.strip()
        time.sleep(0.5)
    return ""
