"""The inventory service: answers stock checks, reserves stock for orders, sells it when the
order is paid, takes it back when the reservation expires, and puts it back on the shelf when
the customer cancels a paid order.

Reads order-events (OrderCreated, OrderStatusChanged), payments (PaymentCompleted, PaymentFailed) and
inventory-requests (StockCheckRequested); writes inventory-events (keyed by order id), the
compacted `stock` table (StockLevel keyed by SKU, one record per level change) and the stock
check answers (to each request's reply_to topic, keyed by correlation id).

Why transactional: a reservation is two writes — InventoryReserved on inventory-events and the
new StockLevel on `stock` — plus the input offset. At-least-once could crash between them and
leave the table and the ledger disagreeing (stock reserved twice on redelivery, or never given
back). In one Kafka transaction they happen together or not at all, so at start the service
can trust both: levels come from the `stock` table and the open reservations from its own past
events on inventory-events. Expiries run from `tick()` in transactions of their own.

Stock check answers are the exception: they go out through a second, non-transactional producer
at once. An answer reserves nothing, so it needs no all-or-nothing, and inside the transaction a
read_committed requester would see it only once the whole batch commits (a transaction's round
trips in every `POST /orders`). If the batch then aborts, the request is read and answered
again: the requester takes the first answer for its correlation id and drops the second.

The decisions live in `stock.py` (pure, unit-tested); this module only moves events.

HTTP (port 8103): GET /stock (every level), GET /stock/{sku}, GET /reservations/{order_id}
(status: reserved, expired, committed, released or rejected), POST /stock/{sku}/restock
{quantity} (a delivery, applied in a transaction that publishes the new level), plus /health
and /metrics.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar

from confluent_kafka import KafkaException, Message

from kafkalab import clients
from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import CUSTOMER_CANCELLED
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import HEADER_TRACE, Event, now_ms
from kafkalab.events.topics import (
    INVENTORY_EVENTS,
    INVENTORY_REQUESTS,
    ORDER_EVENTS,
    PAYMENTS,
    STOCK,
)
from kafkalab.services.http import HttpError, Request, Response, Route, Unavailable
from kafkalab.services.inventory import api
from kafkalab.services.inventory.stock import (
    Duplicate,
    InvalidOrder,
    Level,
    Line,
    Refused,
    Reservation,
    Reserved,
    Status,
    Stock,
)
from kafkalab.services.products import PRODUCTS, Product
from kafkalab.services.runtime import Service
from kafkalab.services.tables import read_to_end
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service")

REBUILD_RETRY_SECONDS = 2.0
RESTOCK_TIMEOUT = 10.0
MAX_RESTOCK = 1_000_000
NO_SKU = "no such SKU in the catalogue"


class _Delivery:
    """A restock asked for over HTTP, applied on the loop thread (which alone owns the stock)."""

    def __init__(self, sku: str, quantity: int) -> None:
        self.sku, self.quantity = sku, quantity
        self.level: Level | None = None
        self.done = threading.Event()


class InventoryService(Service):
    """Stock per SKU and reservations per order, kept in step with Kafka by transactions."""

    name = "inventory"
    subscriptions = (ORDER_EVENTS, PAYMENTS, INVENTORY_REQUESTS)
    transactional = True
    catalogue: ClassVar[Mapping[str, Product]] = PRODUCTS
    """What is sold and its initial stock (tests swap in SKUs of their own)."""

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        super().__init__(settings, conn, replica, port)
        self.stock = Stock.seeded(self.catalogue)
        self.rebuilt = False
        self._next_rebuild = 0.0
        self._aborted = False
        self._after_commit: list[Callable[[], None]] = []
        self._deliveries: queue.Queue[_Delivery] = queue.Queue()
        self.answers = clients.producer(
            conn, **{"linger.ms": 0, "client.id": f"{self.name}-{replica}-answers"}
        )
        """Stock check answers, outside the transactions (see the module docstring)."""
        registry = self.metrics.registry
        self.outcomes = specs.counter(specs.INVENTORY_RESERVATIONS, registry)
        units = specs.gauge(specs.INVENTORY_STOCK, registry)
        seeded = specs.gauge(specs.INVENTORY_SEEDED, registry)
        for sku, product in self.catalogue.items():
            seeded.labels(sku).set(product.initial_stock)
        for sku in self.catalogue:
            units.labels(sku, "available").set_function(partial(self._units, sku, True))
            units.labels(sku, "reserved").set_function(partial(self._units, sku, False))
        active = specs.gauge(specs.INVENTORY_ACTIVE, registry)
        active.set_function(lambda: self.stock.active())

    # -- events ------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if event.type == "StockCheckRequested":
            self._answer(event)
        elif event.type == "OrderCreated":
            self._reserve(event)
        elif event.type == "PaymentCompleted":
            self._commit(event)
        elif event.type == "OrderStatusChanged" and _customer_cancel(event.value):
            self._give_back(event)
        elif event.type == "PaymentFailed":
            # The order may still be paid before the TTL runs out; expiry will release it if not.
            log.info(
                "payment failed; reservation kept until it expires",
                extra={"fields": {"order_id": event.value.get("order_id")}},
            )
        # Anything else on our topics (other status changes, …) is not inventory's business.

    def _answer(self, request: Event) -> None:
        """Request-reply: is there stock for these items right now? Nothing is reserved."""
        value = request.value
        correlation_id, reply_to = str(value["correlation_id"]), str(value["reply_to"])
        if not correlation_id or not reply_to or reply_to in self.subscriptions:
            raise InvalidOrder(
                f"stock check needs a correlation id and a reply topic (got {reply_to!r})"
            )
        missing = self.stock.missing(Line.from_value(i) for i in value["items"])
        self.emit(
            reply_to,
            correlation_id,
            "StockCheckReplied",
            {"correlation_id": correlation_id, "available": not missing, "missing_skus": missing},
            cause=request,
            via=self.answers,
        )
        self.answers.poll(0)  # serve delivery reports; the answer itself is already on its way

    def _reserve(self, event: Event) -> None:
        """All items or none, idempotent by order id."""
        value = event.value
        order_id, user_id = str(value["order_id"]), str(value["user_id"])
        lines = tuple(Line.from_value(i) for i in value["items"])
        expires_at = now_ms() + int(self.settings.reservation_ttl * 1000)
        result = self.stock.reserve(
            order_id,
            user_id,
            lines,
            expires_at,
            total_cents=int(value["total_cents"]),
            card_masked=str(value["card_masked"]),
            trace_id=event.trace_id,
            card_sealed=str(value.get("card_number", "")),
        )
        if isinstance(result, Duplicate):
            log.info(
                "duplicate OrderCreated ignored",
                extra={"fields": {"order_id": order_id, "status": str(result.status)}},
            )
            self._count("duplicate")
        elif isinstance(result, Refused):
            self.emit(
                INVENTORY_EVENTS,
                order_id,
                "OutOfStock",
                {
                    "order_id": order_id,
                    "user_id": user_id,
                    "missing_skus": list(result.missing_skus),
                },
                cause=event,
            )
            self._count("out_of_stock")
        elif isinstance(result, Reserved):
            reservation = result.reservation
            self.emit(
                INVENTORY_EVENTS,
                order_id,
                "InventoryReserved",
                {
                    "order_id": order_id,
                    "user_id": user_id,
                    "total_cents": reservation.total_cents,
                    "card_masked": reservation.card_masked,
                    "card_number": reservation.card_sealed,
                    "items": [line.to_value() for line in reservation.lines],
                    "expires_at": reservation.expires_at_ms,
                },
                cause=event,
            )
            self._publish_levels(reservation.quantities(), cause=event)
            self._count("reserved")

    def _commit(self, event: Event) -> None:
        """Paid: the reservation becomes a sale (once, however often the payment is delivered)."""
        order_id = str(event.value["order_id"])
        done = self.stock.commit(order_id)
        if done is not None:
            self.emit(
                INVENTORY_EVENTS,
                order_id,
                "StockCommitted",
                {"order_id": order_id, "user_id": done.user_id, "items": _items(done)},
                cause=event,
            )
            self._publish_levels(done.quantities(), cause=event)
            self._count("committed")
            return
        status = self.stock.status(order_id)
        if status in (Status.EXPIRED, Status.RELEASED):
            # Paid after the stock went back: the order is cancelled; a refund is out of scope.
            log.warning(
                "payment arrived after the reservation expired",
                extra={"fields": {"order_id": order_id}},
            )
            self._count("late_payment")
        elif status is None:
            log.info(
                "payment for an order inventory never reserved",
                extra={"fields": {"order_id": order_id}},
            )

    def _give_back(self, event: Event) -> None:
        """The customer cancelled a confirmed order: its sold units go back on the shelf, once
        (a redelivered cancel finds the order RETURNED and changes nothing)."""
        order_id = str(event.value["order_id"])
        done = self.stock.give_back(order_id)
        if done is None:
            log.info(
                "cancelled order has no sold stock to give back",
                extra={"fields": {"order_id": order_id, "status": self.stock.status(order_id)}},
            )
            return
        self.emit(
            INVENTORY_EVENTS,
            order_id,
            "StockReturned",
            {
                "order_id": order_id,
                "user_id": done.user_id,
                "items": _items(done),
                "reason": str(event.value.get("reason") or ""),
            },
            cause=event,
        )
        self._publish_levels(done.quantities(), cause=event)
        self._count("returned")

    # -- expiry and start-up -----------------------------------------------------------------

    def tick(self) -> None:
        if not self.rebuilt:
            if time.monotonic() >= self._next_rebuild:
                self._rebuild()
            return
        if not self._deliveries.empty():
            self._restock()
        now = now_ms()
        if self.stock.has_due(now):
            self._in_transaction(lambda: self._expire(self.stock.expire_due(now)))

    def _restock(self) -> None:
        """Apply the waiting deliveries in one transaction that publishes the new levels."""
        taken: list[_Delivery] = []
        while not self._deliveries.empty():
            taken.append(self._deliveries.get_nowait())

        def work() -> None:
            for delivery in taken:
                self.stock.restock(delivery.sku, delivery.quantity)
            self._publish_levels({delivery.sku: 0 for delivery in taken})

        self._in_transaction(work)
        for delivery in taken:
            delivery.level = None if self._aborted else self.stock.level(delivery.sku)
            delivery.done.set()

    def _expire(self, expired: list[Reservation]) -> None:
        """ReservationExpired, then StockReleased(reason "expired") and the levels go back."""
        for reservation in expired:
            trace = reservation.trace_id or None
            full = self.emit(
                INVENTORY_EVENTS,
                reservation.order_id,
                "ReservationExpired",
                {"order_id": reservation.order_id, "user_id": reservation.user_id},
                trace_id=trace,
            )
            cause = Event(
                INVENTORY_EVENTS,
                -1,
                -1,
                reservation.order_id,
                "ReservationExpired",
                full,
                {HEADER_TRACE: trace or ""},
            )
            self._release(reservation, cause)

    def _release(self, reservation: Reservation, cause: Event | None) -> None:
        released = self.stock.release(reservation.order_id)
        if released is None:
            return
        self.emit(
            INVENTORY_EVENTS,
            released.order_id,
            "StockReleased",
            {
                "order_id": released.order_id,
                "user_id": released.user_id,
                "items": _items(released),
                "reason": "expired",
            },
            cause=cause,
            trace_id=released.trace_id or None,
        )
        self._publish_levels(released.quantities(), cause=cause, trace_id=released.trace_id)
        self._count("expired")

    def _rebuild(self) -> None:
        """Memory from the topics: open reservations from our own past events, levels from the
        `stock` table (seeded from the catalogue for SKUs the table does not know yet).

        Runs in the first tick, i.e. after init_transactions(): any transaction a crashed
        predecessor left open has been aborted by then, so read_committed reaches the end.
        """
        self.ready = False
        try:
            events = read_to_end(
                self.conn,
                self.serde,
                [INVENTORY_EVENTS, STOCK],
                group_id="kafkalab-inventory-replay",
            )
        except KafkalabError as exc:
            log.error("cannot rebuild inventory yet: %s", exc)
            self._next_rebuild = time.monotonic() + REBUILD_RETRY_SECONDS
            self.ready = True
            return
        stock = Stock.seeded(self.catalogue)
        table: dict[str, Level] = {}
        for event in events:
            if event.topic == STOCK and event.type == "StockLevel":
                table[str(event.value["sku"])] = Level(
                    int(event.value["available"]), int(event.value["reserved"])
                )
            elif event.topic == INVENTORY_EVENTS and event.service == self.name:
                stock.replay(event.type, event.value, event.trace_id)
        stock.overwrite_levels(table)
        self.stock = stock
        unseen = {sku: 0 for sku in self.catalogue if sku not in table}
        leftovers = stock.awaiting_release()

        def publish() -> None:
            self._publish_levels(unseen)
            for reservation in leftovers:
                self._release(reservation, cause=None)

        if unseen or leftovers:
            self._in_transaction(publish)
        self.rebuilt = True
        self.ready = True
        log.info(
            "inventory rebuilt",
            extra={
                "fields": {
                    "events": len(events),
                    "table_skus": len(table),
                    "active": stock.active(),
                }
            },
        )

    def _publish_levels(
        self, skus: Mapping[str, int], cause: Event | None = None, trace_id: str | None = None
    ) -> None:
        """One StockLevel per SKU in `skus` onto the compacted `stock` table."""
        for sku in skus:
            level = self.stock.level(sku)
            if level is None:
                continue
            self.emit(
                STOCK,
                sku,
                "StockLevel",
                {
                    "sku": sku,
                    "available": level.available,
                    "reserved": level.reserved,
                    "updated_at": now_ms(),
                },
                cause=cause,
                trace_id=trace_id or None,
            )

    def _shutdown(self) -> None:
        self.answers.flush(5)
        super()._shutdown()

    # -- transactions: memory follows what Kafka committed -------------------------------------

    def _process_batch(self, batch: list[Message]) -> None:
        # The runtime wraps the batch in a Kafka transaction; if it aborts (it then calls
        # _rewind) the batch is consumed again, so memory must forget what the batch did.
        saved = self.stock.snapshot()
        self._aborted = False
        self._after_commit.clear()
        super()._process_batch(batch)
        self._settle(saved)

    def _rewind(self, batch: list[Message]) -> None:
        self._aborted = True
        super()._rewind(batch)

    def _in_transaction(self, work: Callable[[], None]) -> None:
        """Run `work` (which emits) in a transaction of its own; undo its memory on abort."""
        saved = self.stock.snapshot()
        self._aborted = False
        self._after_commit.clear()
        self.producer.begin_transaction()
        try:
            work()
            self.producer.commit_transaction()
            self.metrics.transactions.labels(self.name, "committed").inc()
        except KafkaException as exc:
            log.warning("transaction aborted: %s", exc)
            self.metrics.transactions.labels(self.name, "aborted").inc()
            self.producer.abort_transaction()
            self._aborted = True
        self._settle(saved)

    def _settle(self, saved: Any) -> None:
        if self._aborted:
            self.stock.restore(saved)
        else:
            for action in self._after_commit:
                action()
        self._after_commit.clear()

    def _count(self, outcome: str) -> None:
        self._after_commit.append(lambda: self.outcomes.labels(outcome).inc())

    # -- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/stock", self._get_stock, answer=api.Stock),
            Route("GET", "/stock/{sku}", self._get_sku, answer=api.SkuLevel, errors={404: NO_SKU}),
            Route(
                "GET",
                "/reservations/{order_id}",
                self._get_reservation,
                answer=api.ReservationView,
                errors={404: "inventory has not seen this order"},
            ),
            Route(
                "POST",
                "/stock/{sku}/restock",
                self._post_restock,
                body=api.RestockBody,
                answer=api.SkuLevel,
                errors={
                    404: NO_SKU,
                    422: f"quantity is not a whole number between 1 and {MAX_RESTOCK}",
                    503: "the restock transaction aborted; try again",
                    504: "the restock was not applied in time",
                },
            ),
        ]

    def _post_restock(self, request: Request) -> Response:
        """`{"quantity": n}` more units of a SKU (a delivery; `kafkalab load` tops up with it).
        Answers with the new level once its StockLevel is committed on `stock`."""
        sku = request.params["sku"]
        if sku not in self.catalogue:
            raise HttpError(404, f"unknown SKU {sku}")
        quantity = request.body.get("quantity") if isinstance(request.body, dict) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise HttpError(422, 'the body must be {"quantity": a whole number of units}')
        if not 1 <= quantity <= MAX_RESTOCK:
            raise HttpError(422, f"quantity must be between 1 and {MAX_RESTOCK}")
        delivery = _Delivery(sku, quantity)
        self._deliveries.put(delivery)
        if not delivery.done.wait(RESTOCK_TIMEOUT):
            raise HttpError(504, f"the restock was not applied within {RESTOCK_TIMEOUT:g} s")
        if delivery.level is None:
            raise Unavailable("the restock transaction aborted; try again")
        return Response(200, {"sku": sku, **_level(delivery.level)})

    def _get_stock(self, request: Request) -> Response:
        """Every SKU's level, as the `stock` table has it."""
        return Response(
            200, {"stock": {sku: _level(lv) for sku, lv in self.stock.levels().items()}}
        )

    def _get_sku(self, request: Request) -> Response:
        """One SKU's level."""
        sku = request.params["sku"]
        level = self.stock.level(sku)
        if level is None:
            raise HttpError(404, f"unknown SKU {sku}")
        return Response(200, {"sku": sku, **_level(level)})

    def _get_reservation(self, request: Request) -> Response:
        """What inventory did for an order, and what it still holds for it."""
        order_id = request.params["order_id"]
        status = self.stock.status(order_id)
        if status is None:
            raise HttpError(404, f"inventory has not seen order {order_id}")
        found = self.stock.reservation(order_id)
        body: dict[str, Any] = {"order_id": order_id, "status": str(status)}
        if found is not None:
            body |= {
                "user_id": found.user_id,
                "items": _items(found),
                "expires_at": found.expires_at_ms,
            }
        return Response(200, body)

    def health(self) -> dict[str, Any]:
        return {"rebuilt": self.rebuilt, "reservations_active": self.stock.active()}

    def _units(self, sku: str, available: bool) -> float:
        level = self.stock.level(sku)
        if level is None:
            return 0.0
        return float(level.available if available else level.reserved)


def _customer_cancel(change: Mapping[str, Any]) -> bool:
    """A paid order the customer cancelled: CONFIRMED → CANCELLED for the customer's reason."""
    return (
        change.get("from_status") == "CONFIRMED"
        and change.get("to_status") == "CANCELLED"
        and change.get("reason") == CUSTOMER_CANCELLED
    )


def _items(reservation: Reservation) -> list[dict[str, Any]]:
    return [line.to_value() for line in reservation.lines]


def _level(level: Level) -> dict[str, int]:
    return {"available": level.available, "reserved": level.reserved}
