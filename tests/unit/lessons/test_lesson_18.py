"""Lesson 18's check says ✘ for each way security can fail: a stranger gets in, the rogue reads
payments (or is stopped by something other than the broker), a client without a certificate
gets through the mTLS listener or one with a certificate is not who its ACLs name, the card
travels in clear, the audit trail misses a denial."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(18), "check")
Seen, check = check_module.Seen, check_module.check
SCRAM = "SCRAM-SHA-512 over TLS connects"

CARD = "4111111111111111"
REFUSED = {
    "plaintext": "Failed to get metadata: Local: Broker transport failure",
    "TLS, no SASL": "Disconnected: SSL connection closed by peer",
    "SCRAM, wrong password": "SASL authentication error: Authentication failed",
}
DENIAL = (
    "[2026-01-01 00:00:00,000] INFO Principal = User:rogue is Denied operation = DESCRIBE from "
    "host = 127.0.0.1 on resource = Topic:LITERAL:lesson18.payments.abc (kafka.authorizer.logger)"
)


CERT_DENIAL = DENIAL.replace("User:rogue", "User:dashboard")
NO_CERT = "Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate"


def _audit(principal: str, action: str, reason: str) -> dict[str, str]:
    return {"principal": principal, "action": action, "outcome": "DENIED", "reason": reason}


AUDIT = [
    *(_audit("anonymous", "kafka connect", f"{k}: {v}") for k, v in REFUSED.items()),
    _audit("User:rogue", "kafka read", "TOPIC_AUTHORIZATION_FAILED"),
]


def good() -> Any:
    return Seen(
        listener_protocol="SASL_SSL",
        listener_mechanisms=["SCRAM-SHA-512"],
        admin_scram=["SCRAM-SHA-512"],
        tls_issuer="kafkalab local CA",
        admin_connected=True,
        refused=dict(REFUSED),
        rogue_allowed_read=1,
        rogue_error_code=29,
        rogue_error_name="TOPIC_AUTHORIZATION_FAILED",
        rogue_read_payments=0,
        broker_log_denial=DENIAL,
        card_in_record=False,
        card_on_disk=False,
        segment_bytes=262,
        sealed_value="enc:v1:9T7jgZkwLbxo8t1bVJYQX",
        opened=CARD,
        moved_refused=True,
        mtls_client_auth="required",
        mtls_no_cert_refused=NO_CERT,
        cert_subject="CN=dashboard,OU=kafkalab",
        cert_allowed_read=1,
        cert_error_code=29,
        cert_read_payments=0,
        cert_broker_denial=CERT_DENIAL,
        audit=list(AUDIT),
    )


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"listener_protocol": "PLAINTEXT"}, "SCRAM-SHA-512 over TLS connects"),
        ({"listener_protocol": "SASL_PLAINTEXT"}, "SCRAM-SHA-512 over TLS connects"),
        ({"listener_mechanisms": ["PLAIN", "SCRAM-SHA-512"]}, "SCRAM-SHA-512 over TLS connects"),
        ({"listener_mechanisms": []}, "SCRAM-SHA-512 over TLS connects"),
        ({"admin_scram": ["SCRAM-SHA-256"]}, "SCRAM-SHA-512 over TLS connects"),
        ({"admin_connected": False}, "SCRAM-SHA-512 over TLS connects"),
        ({"tls_issuer": "some other CA"}, "the port presents a certificate from kafkalab's CA"),
        ({"refused": {**REFUSED, "plaintext": ""}}, "no credentials, no connection"),
        ({"refused": {"plaintext": "refused"}}, "no credentials, no connection"),
        ({"rogue_allowed_read": 0}, "the rogue's own credentials and ALLOW ACL work"),
        ({"rogue_error_code": None}, "the broker answered TOPIC_AUTHORIZATION_FAILED"),
        # A local librdkafka error (negative code) is not the broker's answer.
        ({"rogue_error_code": -185}, "the broker answered TOPIC_AUTHORIZATION_FAILED"),
        ({"rogue_error_code": 30}, "the broker answered TOPIC_AUTHORIZATION_FAILED"),
        ({"rogue_read_payments": 1}, "the broker answered TOPIC_AUTHORIZATION_FAILED"),
        ({"broker_log_denial": ""}, "the broker's authorizer logged the denial"),
        (
            {"broker_log_denial": DENIAL.replace("User:rogue", "User:admin")},
            "the broker's authorizer logged the denial",
        ),
        ({"card_in_record": True}, "ciphertext on the topic"),
        ({"sealed_value": CARD}, "ciphertext on the topic"),
        ({"card_on_disk": True}, "no clear card number on the broker's disk"),
        ({"segment_bytes": 0}, "no clear card number on the broker's disk"),
        ({"opened": "garbage"}, "only the key holder reads it, and only for its order"),
        ({"moved_refused": False}, "only the key holder reads it, and only for its order"),
        ({"mtls_client_auth": "requested"}, "no client certificate, no TLS session"),
        ({"mtls_no_cert_refused": ""}, "no client certificate, no TLS session"),
        ({"cert_allowed_read": 0}, "the certificate logs in as User:dashboard"),
        # The broker named another principal: the mapping rule did not apply.
        (
            {"cert_broker_denial": DENIAL.replace("User:rogue", "User:CN=dashboard,OU=kafkalab")},
            "the certificate logs in as User:dashboard",
        ),
        ({"cert_broker_denial": ""}, "the certificate logs in as User:dashboard"),
        ({"cert_error_code": None}, "the certificate gets nothing its principal was not granted"),
        ({"cert_read_payments": 2}, "the certificate gets nothing its principal was not granted"),
        ({"audit": AUDIT[:3]}, "the audit trail holds the denied attempts"),
        ({"audit": AUDIT[2:]}, "the audit trail holds the denied attempts"),
        (
            {"audit": [{**r, "outcome": "ALLOWED"} for r in AUDIT]},
            "the audit trail holds the denied attempts",
        ),
    ],
)
def test_each_wrong_outcome_fails(change: dict[str, Any], name: str) -> None:
    assert name in failing(check(replace(good(), **change)))


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"listener_protocol": "PLAINTEXT"}, "the broker's listener speaks PLAINTEXT"),
        (
            {"listener_mechanisms": ["PLAIN", "SCRAM-SHA-512"]},
            "the listener accepts PLAIN, SCRAM-SHA-512, not SCRAM-SHA-512 alone",
        ),
        ({"admin_scram": []}, "the broker holds no SCRAM-SHA-512 credential for admin"),
        ({"admin_connected": False}, "admin's SCRAM-SHA-512 login over TLS got no metadata back"),
    ],
)
def test_the_broker_side_says_what_is_wrong(change: dict[str, Any], said: str) -> None:
    [judged] = [c for c in check(replace(good(), **change)) if c.name == SCRAM]
    assert (judged.ok, judged.detail) == (False, said)
