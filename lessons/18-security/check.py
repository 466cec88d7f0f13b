"""Lesson 18's check: the broker, not our code, turned the intruders away, a client certificate
logged in as the principal its subject maps to, and the card never reached the topic (or the
broker's disk) in clear."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.scenarios.security import CARD
from kafkalab.verdict import Check, equal, expect

TOPIC_AUTHORIZATION_FAILED = 29
"""Kafka protocol error code 29. Broker error codes are positive; librdkafka's own (a local
timeout, a transport failure) are negative, so a positive code can only have come from a broker."""


@dataclass
class Seen:
    listener_protocol: str  # the broker's listener at the address we connect to (describe_configs)
    listener_mechanisms: list[str]  # the SASL mechanisms that listener accepts
    admin_scram: list[str]  # mechanisms of the SCRAM credential the broker holds for admin
    tls_issuer: str  # who signed the certificate the secure port presented
    admin_connected: bool  # SCRAM over TLS as admin got metadata back
    refused: dict[str, str]  # attempt without valid credentials → why it failed ("" = it got in)
    rogue_allowed_read: int  # records the rogue read from the topic its ALLOW ACL covers
    rogue_error_code: int | None  # what Kafka answered the rogue on the payments topic
    rogue_error_name: str
    rogue_read_payments: int  # records the rogue got from the payments topic (must be 0)
    broker_log_denial: str  # the broker's own authorizer log line for the denial ("" = none)
    card_in_record: bool  # the clear card number appears in the raw record bytes
    card_on_disk: bool  # … or in the partition's log segment on the broker's disk
    segment_bytes: int  # how much of the segment was searched
    sealed_value: str  # the card field as it sits on the topic
    opened: str  # what the holder of the private key reads from it
    moved_refused: bool  # opening it as another order's card failed (GCM's associated data)
    mtls_client_auth: str  # the MTLS listener's ssl.client.auth, as the broker runs it
    mtls_no_cert_refused: str  # why a TLS client without a certificate got in nowhere ("" = it did)
    cert_subject: str  # the client certificate's subject (RFC 4514)
    cert_allowed_read: int  # records the certificate's client read where its principal has an ACL
    cert_error_code: int | None  # what Kafka answered it on payments, where it has none
    cert_read_payments: int  # records it got from payments (must be 0)
    cert_broker_denial: str  # the authorizer's log line naming the principal it logged in as
    audit: list[dict[str, str]] = field(default_factory=list)  # this run's records on `audit`


def check(seen: Seen) -> list[Check]:
    got_in = [label for label, why in seen.refused.items() if not why]
    denials = [r for r in seen.audit if r.get("outcome") == "DENIED"]
    rogue_audited = any(
        r["principal"] == "User:rogue" and r["reason"] == "TOPIC_AUTHORIZATION_FAILED"
        for r in denials
    )
    connects_audited = sum(r["action"] == "kafka connect" for r in denials)
    return [
        _scram_over_tls(seen),
        equal(
            "the port presents a certificate from kafkalab's CA",
            "kafkalab local CA",
            seen.tls_issuer,
        ),
        expect(
            "no credentials, no connection",
            len(seen.refused) >= 3 and not got_in,
            f"refused: {', '.join(seen.refused)}" if not got_in else f"got in: {', '.join(got_in)}",
        ),
        expect(
            "the rogue's own credentials and ALLOW ACL work",
            seen.rogue_allowed_read > 0,
            f"read {seen.rogue_allowed_read} record(s) from the allowed topic",
        ),
        expect(
            "the broker answered TOPIC_AUTHORIZATION_FAILED",
            seen.rogue_error_code == TOPIC_AUTHORIZATION_FAILED and seen.rogue_read_payments == 0,
            f"Kafka error {seen.rogue_error_code} {seen.rogue_error_name}, "
            f"{seen.rogue_read_payments} record(s) read",
        ),
        expect(
            "the broker's authorizer logged the denial",
            "User:rogue" in seen.broker_log_denial and "Denied" in seen.broker_log_denial,
            seen.broker_log_denial[:160] or "no 'Denied' line for User:rogue in server.log",
        ),
        *_mutual_tls(seen),
        expect(
            "ciphertext on the topic",
            seen.sealed_value.startswith("enc:v1:") and not seen.card_in_record,
            f"card_number = {seen.sealed_value[:28]}…"
            if not seen.card_in_record
            else "the clear card number is in the record",
        ),
        expect(
            "no clear card number on the broker's disk",
            seen.segment_bytes > 0 and not seen.card_on_disk,
            f"{seen.segment_bytes} segment bytes searched"
            + (", the card is there" if seen.card_on_disk else ""),
        ),
        expect(
            "only the key holder reads it, and only for its order",
            seen.opened == CARD and seen.moved_refused,
            f"opened {seen.opened[:4]}…{seen.opened[-4:]}; as another order's: "
            + ("refused" if seen.moved_refused else "opened"),
        ),
        expect(
            "the audit trail holds the denied attempts",
            rogue_audited and connects_audited >= len(seen.refused) > 0,
            f"{len(denials)} DENIED record(s): rogue {'present' if rogue_audited else 'missing'}, "
            f"{connects_audited} refused connection(s)",
        ),
    ]


def _scram_over_tls(seen: Seen) -> Check:
    """Judged on what the broker runs, not on the client's settings: its listener on that port
    speaks SASL_SSL and accepts SCRAM-SHA-512 alone, it holds a SCRAM-SHA-512 credential for
    admin, and admin's login there got metadata back — so it was SCRAM over TLS."""
    name = "SCRAM-SHA-512 over TLS connects"
    if seen.listener_protocol != "SASL_SSL":
        return expect(name, False, f"the broker's listener speaks {seen.listener_protocol}")
    if seen.listener_mechanisms != ["SCRAM-SHA-512"]:
        accepted = ", ".join(seen.listener_mechanisms) or "none"
        return expect(name, False, f"the listener accepts {accepted}, not SCRAM-SHA-512 alone")
    if "SCRAM-SHA-512" not in seen.admin_scram:
        return expect(name, False, "the broker holds no SCRAM-SHA-512 credential for admin")
    if not seen.admin_connected:
        return expect(name, False, "admin's SCRAM-SHA-512 login over TLS got no metadata back")
    return expect(
        name,
        True,
        "the broker's listener is SASL_SSL with SCRAM-SHA-512 only; admin's login there "
        "got metadata back",
    )


CERT_PRINCIPAL = "User:dashboard"
"""What the MTLS listener's mapping rule makes of the demo's certificate, CN=dashboard,OU=kafkalab."""


def _mutual_tls(seen: Seen) -> list[Check]:
    """The certificate is the login: without one the TLS handshake fails; with one, the broker's
    own authorizer names the mapped principal, whose ACL (and no other) lets it read."""
    named = f"{CERT_PRINCIPAL} is Denied" in seen.cert_broker_denial
    return [
        expect(
            "no client certificate, no TLS session",
            seen.mtls_client_auth == "required" and bool(seen.mtls_no_cert_refused),
            f"ssl.client.auth={seen.mtls_client_auth or 'not set'}; without a certificate: "
            + (seen.mtls_no_cert_refused or "it got in"),
        ),
        expect(
            f"the certificate logs in as {CERT_PRINCIPAL}",
            seen.cert_allowed_read > 0 and named,
            f"{seen.cert_subject}: read {seen.cert_allowed_read} record(s) with the ACL of "
            f"{CERT_PRINCIPAL}; "
            + (
                f"the authorizer logged {CERT_PRINCIPAL}"
                if named
                else f"no 'Denied' line for {CERT_PRINCIPAL} in server.log"
            ),
        ),
        expect(
            "the certificate gets nothing its principal was not granted",
            seen.cert_error_code == TOPIC_AUTHORIZATION_FAILED and seen.cert_read_payments == 0,
            f"on payments: Kafka error {seen.cert_error_code}, "
            f"{seen.cert_read_payments} record(s) read",
        ),
    ]
