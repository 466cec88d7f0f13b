"""The payment service: charges reserved orders exactly once, inside Kafka transactions.

Reads inventory-events (acts on InventoryReserved only) and payments.retry; writes payments
(PaymentCompleted / PaymentFailed, keyed by order id), payments.retry and payments.DLT.

Exactly once: `transactional = True`, so the runtime commits each batch's outputs and its input
offsets in one Kafka transaction (send_offsets_to_transaction). A crash mid-batch aborts the
transaction; the restarted replica (same transactional.id, so the zombie is fenced) consumes
the batch again, and a read_committed reader sees every outcome once. Memory follows the same
rule: decisions made in a transaction that aborted are forgotten (`_process_batch`).

Idempotent besides: an order already decided (remembered, and rebuilt from `payments` at
start) is never charged again, so a duplicated InventoryReserved cannot pay twice either.

Transient gateway failures do not block the loop: the event goes to payments.retry with
`retry.attempts` and `retry.not_before` headers (see retry.py). A retry record read before it
is due is written back to the end of payments.retry unchanged (in the same transaction, so it
cannot be lost or doubled) and its partition is paused until the record is due; tick() resumes
it. Paused, the partition costs nothing; resumed, librdkafka fetches from the last consumed
position, so nothing between is skipped.

A circuit breaker (breaker.py) stops calls to a gateway that keeps failing; while it is open a
due payment counts a failed attempt and is rescheduled. Poison — an undecodable record, an
InventoryReserved with a negative amount, a retry record without its headers — is parked in
payments.DLT with error headers by the runtime.

Users' balances come from the `users` table (table.py); an unknown user is Retryable (the
profile may still be on its way), after a read-your-writes barrier on the table.

HTTP (port 8104): GET /payments/{order_id} (the order's decision), GET /balances/{user_id}
(balance, spent, available), POST /chaos/gateway {"seconds": 5, "failure_rate": 1.0} (an
injected gateway outage on this replica, for the breaker to react to), plus /health (with the
circuit state and its recent transitions) and /metrics.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from confluent_kafka import KafkaException, Message, TopicPartition

from kafkalab import clients
from kafkalab.catalogue import metrics as specs
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, now_ms
from kafkalab.events.topics import INVENTORY_EVENTS, PAYMENTS, PAYMENTS_RETRY, USERS
from kafkalab.security import fields
from kafkalab.security.audit import AuditEntry
from kafkalab.services.http import HttpError, Request, Response, Route
from kafkalab.services.payment import api
from kafkalab.services.payment.accounts import COMPLETED, Accounts, AccountsSnapshot, Decision
from kafkalab.services.payment.breaker import GAUGE_VALUE, CircuitBreaker, CircuitState
from kafkalab.services.payment.gateway import ChargeRequest, Gateway, InvalidPayment, Outcome
from kafkalab.services.payment.retry import HEADER_REASON, RetryPolicy, RetryTicket
from kafkalab.services.payment.table import UsersTable
from kafkalab.services.runtime import Retryable, Service
from kafkalab.services.tables import read_to_end
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service")

PAYMENT_ID_NAMESPACE = uuid.UUID("6f0c1d52-2b1e-4c1a-9a57-5b0e8f0b9c11")
INSUFFICIENT_FUNDS = "insufficient_funds"
GATEWAY_UNAVAILABLE = "gateway_unavailable"
REBUILD_RETRY_SECONDS = 2.0
CIRCUIT_HISTORY = 20


class PaymentService(Service):
    """Charge each reserved order once; retry a flaky gateway without stalling the others."""

    name = "payment"
    subscriptions = (INVENTORY_EVENTS, PAYMENTS_RETRY)
    transactional = True

    retry_policy: ClassVar[RetryPolicy] = RetryPolicy(
        max_attempts=5, base_seconds=0.5, cap_seconds=8.0
    )
    breaker_threshold: ClassVar[int] = 5
    breaker_cool_down_seconds: ClassVar[float] = 5.0
    gateway_seed: ClassVar[int] = 0
    user_sync_seconds: ClassVar[float] = 3.0
    """How long an unknown user waits for the users table to catch up before Retryable."""

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        super().__init__(settings, conn, replica, port)
        self.card_key = fields.opener(settings, "card")  # secure mode: the one card reader
        self.gateway = Gateway(
            settings.payment_failure_rate,
            settings.payment_latency_ms,
            seed=self.gateway_seed + replica,
        )
        self.breaker = CircuitBreaker(self.breaker_threshold, self.breaker_cool_down_seconds)
        self.accounts = Accounts()
        self.users = UsersTable(conn, USERS, self.group_id)
        self.rebuilt = False
        self._next_rebuild = 0.0
        self._paused: dict[tuple[str, int], int] = {}  # partition → epoch ms to resume at
        self._users_partitions: list[int] = []
        self._aborted = False
        self._after_commit: list[Callable[[], None]] = []
        registry = self.metrics.registry
        self.outcomes = specs.counter(specs.PAYMENTS, registry)
        self.charged = specs.counter(specs.PAYMENT_CHARGED, registry)
        circuit = specs.gauge(specs.PAYMENT_CIRCUIT, registry)
        circuit.set_function(lambda: GAUGE_VALUE[self.breaker.state()])
        self.circuit_changes = specs.counter(specs.PAYMENT_CIRCUIT_TRANSITIONS, registry)
        self._circuit_seen = CircuitState.CLOSED
        self.circuit_history: tuple[dict[str, Any], ...] = ()
        """Recent transitions, for /health: a poller that blinks still sees open → closed.
        A tuple replaced whole, so the HTTP thread never reads it mid-change."""

    def run(self) -> int:
        self.users.table.start()
        try:
            return super().run()
        finally:
            self.users.table.stop()

    # -- events ------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if event.topic == PAYMENTS_RETRY:
            ticket = RetryTicket.from_headers(event.headers)
            if event.type != "InventoryReserved":
                raise InvalidPayment(
                    f"payments.retry holds only InventoryReserved (got {event.type})"
                )
            if not ticket.due(now_ms()):
                self._requeue(event, ticket)
                return
            attempt = ticket.attempts + 1
        elif event.type == "InventoryReserved":
            attempt = 1
        else:
            return  # OutOfStock, StockCommitted, …: not payment's business
        request = ChargeRequest.from_reserved(event.value)
        self._open_card(event.value, request)
        if self.accounts.decision(request.order_id) is not None:
            log.info(
                "order already decided; duplicate ignored",
                extra={"fields": {"order_id": request.order_id}},
            )
            self._count("duplicate")
            return
        balance = self._balance(request.user_id)
        self._charge(event, request, balance, attempt)

    def _open_card(self, value: dict[str, Any], request: ChargeRequest) -> None:
        """Secure mode: open the sealed card (payment alone holds the key) as the gateway would
        need it, and check it is the card the order was placed with. Every opening is audited;
        one that fails (tampered, or moved from another order) makes the event poison."""
        sealed = str(value.get("card_number", ""))
        if self.card_key is None or not sealed:
            return
        resource = f"card of order {request.order_id}"
        try:
            card = fields.open_sealed(self.card_key, sealed, "card", request.order_id)
            if not request.card_masked.endswith(card[-4:]):
                raise fields.FieldUnreadable("the sealed card does not match the masked card")
        except fields.FieldUnreadable as exc:
            self.audit.record(AuditEntry("User:payment", "decrypt card", resource, False, str(exc)))
            raise InvalidPayment(f"order {request.order_id}: {exc}") from exc
        self.audit.record(AuditEntry("User:payment", "decrypt card", resource, True, "charge"))

    def _charge(self, event: Event, request: ChargeRequest, balance: int, attempt: int) -> None:
        available = self.accounts.available(request.user_id, balance)
        self._observe_circuit()  # open → half_open happens by the clock, between calls
        if self.breaker.allow():
            outcome = self.gateway.charge(request.amount_cents, available)
            if outcome is Outcome.UNAVAILABLE:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            reason = "gateway error"
        else:
            outcome, reason = Outcome.UNAVAILABLE, "circuit open"
        self._observe_circuit()

        if outcome is Outcome.APPROVED:
            self._decide(event, request, COMPLETED, attempt)
        elif outcome is Outcome.DECLINED:
            self._decide(event, request, INSUFFICIENT_FUNDS, attempt)
        elif self.retry_policy.exhausted(attempt):
            self._decide(event, request, GATEWAY_UNAVAILABLE, attempt)
        else:
            ticket = self.retry_policy.ticket(attempt, now_ms())
            self.emit(
                PAYMENTS_RETRY,
                request.order_id,
                "InventoryReserved",
                event.value,
                cause=event,
                headers=ticket.headers(reason),
            )
            log.info(
                "payment scheduled for retry",
                extra={
                    "fields": {
                        "order_id": request.order_id,
                        "attempts": attempt,
                        "not_before": ticket.not_before_ms,
                        "reason": reason,
                    }
                },
            )
            self._count("retry_scheduled")

    def _observe_circuit(self) -> None:
        """Log, count and remember a change of the breaker's state since last looked at."""
        before, after = self._circuit_seen, self.breaker.state()
        if after is before:
            return
        self._circuit_seen = after
        self.circuit_changes.labels(str(after)).inc()
        change = {"at": round(time.time(), 3), "from": str(before), "to": str(after)}
        self.circuit_history = (*self.circuit_history, change)[-CIRCUIT_HISTORY:]
        log.warning(
            "circuit breaker %s → %s", before, after, extra={"fields": {"circuit": str(after)}}
        )

    def _decide(self, event: Event, request: ChargeRequest, outcome: str, attempts: int) -> None:
        """Remember the order's one decision and publish it on `payments`."""
        decision = Decision(
            request.order_id, request.user_id, request.amount_cents, outcome, attempts
        )
        self.accounts.record(decision)
        if decision.charged:
            self.emit(
                PAYMENTS,
                request.order_id,
                "PaymentCompleted",
                {
                    "order_id": request.order_id,
                    "user_id": request.user_id,
                    "payment_id": str(uuid.uuid5(PAYMENT_ID_NAMESPACE, request.order_id)),
                    "amount_cents": request.amount_cents,
                    "card_masked": request.card_masked,
                    # Still sealed: what is on `payments` is ciphertext, never the number.
                    "card_number": str(event.value.get("card_number", "")),
                    "attempts": attempts,
                },
                cause=event,
            )
            amount = request.amount_cents
            self._after_commit.append(lambda: self.charged.inc(amount))
        else:
            self.emit(
                PAYMENTS,
                request.order_id,
                "PaymentFailed",
                {
                    "order_id": request.order_id,
                    "user_id": request.user_id,
                    "amount_cents": request.amount_cents,
                    "reason": outcome,
                    "attempts": attempts,
                },
                cause=event,
            )
        self._count(outcome)

    def _requeue(self, event: Event, ticket: RetryTicket) -> None:
        """Not due yet: back to the end of payments.retry unchanged, and pause the partition
        until it is due (written in this batch's transaction, so never lost nor doubled)."""
        reason = event.headers.get(HEADER_REASON, "")
        self.emit(
            PAYMENTS_RETRY,
            event.key or "",
            "InventoryReserved",
            event.value,
            cause=event,
            headers=ticket.headers(reason),
        )
        where = (event.topic, event.partition)
        wake = min(ticket.not_before_ms, self._paused.get(where, ticket.not_before_ms))
        if where not in self._paused:
            assert self.consumer is not None
            self.consumer.pause([TopicPartition(*where)])
        self._paused[where] = wake

    def _balance(self, user_id: str) -> int:
        balance = self.users.balance(user_id)
        if balance is None:
            try:
                ends = self._users_high_watermarks()
            except KafkaException as exc:  # a slow broker, not a bad event: try again
                raise Retryable(f"could not look up where {USERS} ends: {exc}") from exc
            self.users.table.sync(ends, self.user_sync_seconds)
            balance = self.users.balance(user_id)
        if balance is None:
            raise Retryable(f"no profile for user {user_id} on {USERS} yet")
        return balance

    def _users_high_watermarks(self) -> list[TopicPartition]:
        """Where the users table must have read to include every profile written so far."""
        assert self.consumer is not None
        if not self._users_partitions:
            topic = self.consumer.list_topics(USERS, timeout=10).topics.get(USERS)
            self._users_partitions = sorted(topic.partitions) if topic else []
        partitions = [TopicPartition(USERS, p) for p in self._users_partitions]
        return clients.high_watermarks(self.admin, partitions, timeout=5)

    # -- tick: start-up and resuming paused retries ---------------------------------------------

    def tick(self) -> None:
        if not self.rebuilt:
            if time.monotonic() >= self._next_rebuild:
                self._rebuild()
            return
        if self._paused:
            now = now_ms()
            for where, wake in list(self._paused.items()):
                if now >= wake:
                    del self._paused[where]
                    assert self.consumer is not None
                    try:
                        self.consumer.resume([TopicPartition(*where)])
                    except KafkaException as exc:  # revoked meanwhile: nothing to resume
                        log.info("could not resume %s[%d]: %s", *where, exc)

    def _rebuild(self) -> None:
        """Every order already decided, from our own committed events on `payments`.

        Runs in the first tick, after init_transactions(): a transaction a crashed predecessor
        left open has been aborted by then, so the read_committed read reaches the end.
        """
        self.ready = False
        try:
            events = read_to_end(
                self.conn, self.serde, PAYMENTS, group_id=f"{self.group_id}-{PAYMENTS}-replay"
            )
        except KafkalabError as exc:
            log.error("cannot rebuild payments yet: %s", exc)
            self._next_rebuild = time.monotonic() + REBUILD_RETRY_SECONDS
            self.ready = True
            return
        accounts = Accounts()
        for event in events:
            if event.service == self.name:
                accounts.replay(event.type, event.value)
        self.accounts = accounts
        self.rebuilt = True
        self.ready = True
        log.info(
            "payments rebuilt", extra={"fields": {"events": len(events), "decided": len(accounts)}}
        )

    # -- transactions: memory follows what Kafka committed -------------------------------------

    def _process_batch(self, batch: list[Message]) -> None:
        # The runtime runs the batch in one Kafka transaction. If it aborts (the runtime then
        # calls _rewind) the batch is consumed again, so decisions made in it must be forgotten.
        saved: AccountsSnapshot = self.accounts.snapshot()
        self._aborted = False
        self._after_commit.clear()
        super()._process_batch(batch)
        if self._aborted:
            self.accounts.restore(saved)
        else:
            for action in self._after_commit:
                action()
        self._after_commit.clear()

    def _rewind(self, batch: list[Message]) -> None:
        self._aborted = True
        super()._rewind(batch)

    def _count(self, outcome: str) -> None:
        self._after_commit.append(lambda: self.outcomes.labels(outcome).inc())

    # -- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                "/payments/{order_id}",
                self._get_payment,
                answer=api.PaymentView,
                errors={404: "no payment decided for this order (yet)"},
            ),
            Route(
                "GET",
                "/balances/{user_id}",
                self._get_balance,
                answer=api.BalanceView,
                errors={404: "no profile for this user on `users` (yet)"},
            ),
            Route(
                "POST",
                "/chaos/gateway",
                self._gateway_burst,
                body=api.GatewayBurstBody,
                answer=api.GatewayBurst,
                errors={400: "seconds or failure_rate missing or out of range"},
            ),
        ]

    def _gateway_burst(self, request: Request) -> Response:
        """Make this replica's gateway fail at `failure_rate` (default 1) for `seconds`."""
        body = request.body if isinstance(request.body, dict) else {}
        try:
            seconds = float(body["seconds"])
            rate = float(body.get("failure_rate", 1.0))
            if not 0 <= seconds <= 3600:
                raise ValueError(f"seconds must be between 0 and 3600 (got {seconds:g})")
            self.gateway.burst(seconds, rate)
        except KeyError as exc:
            raise HttpError(400, 'expected {"seconds": S, "failure_rate": 0-1}') from exc
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from exc
        log.warning(
            "gateway failure burst injected",
            extra={"fields": {"seconds": seconds, "failure_rate": rate}},
        )
        return Response(
            200,
            {
                "replica": self.replica,
                "seconds": seconds,
                "failure_rate": rate,
                "circuit": str(self.breaker.state()),
            },
        )

    def _get_payment(self, request: Request) -> Response:
        """How payment decided an order: the outcome and how many gateway attempts it took."""
        order_id = request.params["order_id"]
        decision = self.accounts.decision(order_id)
        if decision is None:
            raise HttpError(404, f"no payment decided for order {order_id}")
        return Response(
            200,
            {
                "order_id": order_id,
                "user_id": decision.user_id,
                "amount_cents": decision.amount_cents,
                "outcome": decision.outcome,
                "attempts": decision.attempts,
            },
        )

    def _get_balance(self, request: Request) -> Response:
        """A user's balance, what payment has charged, and what is left."""
        user_id = request.params["user_id"]
        balance = self.users.balance(user_id)
        if balance is None:
            raise HttpError(404, f"no profile for user {user_id}")
        spent = self.accounts.spent(user_id)
        return Response(
            200,
            {
                "user_id": user_id,
                "balance_cents": balance,
                "spent_cents": spent,
                "available_cents": balance - spent,
            },
        )

    def health(self) -> dict[str, Any]:
        state: CircuitState = self.breaker.state()
        return {
            "circuit": str(state),
            "circuit_history": list(self.circuit_history),
            "gateway_burst_left_s": round(self.gateway.burst_left(), 2),
            "consecutive_failures": self.breaker.consecutive_failures,
            "rebuilt": self.rebuilt,
            "users_loaded": self.users.table.loaded.is_set(),
            "users": len(self.users),
            "decided_orders": len(self.accounts),
            "paused": [f"{t}[{p}]" for t, p in list(self._paused)],
        }
