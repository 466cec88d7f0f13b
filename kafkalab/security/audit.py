"""The audit trail: one AuditRecord per security-relevant decision, on the `audit` topic.

Every service owns an AuditLog. It uses its own plain idempotent producer (not the service's
producer), so a record is written even from a transactional service outside its transaction,
and an aborted batch does not take the evidence of a denial with it. Writing never blocks the
caller: records are queued and delivered in the background, a failure is only logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.serde import EventSerde, new_id, now_ms
from kafkalab.events.topics import AUDIT

log = logging.getLogger("kafkalab.audit")

RECORD_TYPE = "AuditRecord"
AUTHORIZATION_ERRORS = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError._AUTHENTICATION,
    }
)


@dataclass(frozen=True)
class AuditEntry:
    principal: str
    action: str
    resource: str
    allowed: bool
    reason: str = ""

    def value(self, reporter: str) -> dict[str, Any]:
        return {
            "event_id": new_id(),
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "outcome": "ALLOWED" if self.allowed else "DENIED",
            "reason": self.reason[:500],
            "reporter": reporter,
            "occurred_at": now_ms(),
        }


class AuditLog:
    """Writes AuditRecords as `reporter` (a service name or a kafkalab tool)."""

    def __init__(self, conn: Connection, reporter: str, serde: EventSerde | None = None) -> None:
        self.conn = conn
        self.reporter = reporter
        self._serde = serde
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def _ready(self) -> tuple[Producer, EventSerde]:
        with self._lock:
            if self._producer is None:
                self._producer = clients.producer(self.conn, **{"linger.ms": 20})
            if self._serde is None:
                self._serde = EventSerde(self.conn)
            return self._producer, self._serde

    def record(self, entry: AuditEntry) -> None:
        """Queue one record; never raises (an audit failure must not fail the request)."""
        try:
            producer, serde = self._ready()
            data = serde.serialize(AUDIT, RECORD_TYPE, entry.value(self.reporter))
            producer.produce(
                AUDIT,
                key=entry.principal.encode(),
                value=data,
                headers=[("event_type", RECORD_TYPE.encode()), ("service", self.reporter.encode())],
                on_delivery=_report_failure,
            )
            producer.poll(0)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("audit record not written: %s", exc)

    def kafka_error(self, error: KafkaError, action: str, resource: str) -> None:
        """Record a denial the broker answered (authorization or authentication failures)."""
        if error.code() in AUTHORIZATION_ERRORS:
            # The broker's name for who was refused: the SASL user, or ANONYMOUS without one.
            principal = f"User:{self.conn.principal or 'ANONYMOUS'}"
            self.record(AuditEntry(principal, action, resource, False, error.name()))

    def flush(self, timeout: float = 10.0) -> int:
        """Deliver what is queued; returns how many records are still undelivered."""
        return self._producer.flush(timeout) if self._producer is not None else 0


def login_principal(email: str) -> str:
    """A stable name for a login attempt that keeps the e-mail address itself off the topic."""
    return "login:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def _report_failure(error: KafkaError | None, _msg: Any) -> None:
    if error is not None:
        log.warning("audit record not delivered: %s", error)
