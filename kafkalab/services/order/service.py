"""The order service (:8102): takes orders and walks them through the order state machine.

    POST /orders            Authorization: Bearer <token>, {items: [{sku, quantity}], card_number}
                            → 201 {order_id, status: "CREATED"}; 401 no/bad/expired token;
                              422 bad body; 409 out of stock; 504 inventory did not answer
                              (stock_check request-reply)
    GET  /orders/{order_id} → 200 {order_id, user_id, status, items, total_cents, card_masked,
                              created_at, history: [...]}; 404 unknown
    POST /orders/{order_id}/cancel   Authorization: Bearer <token> (the order's own customer)
                            → 200 {order_id, status: "CANCELLED"}; 401; 403 someone else's
                              order; 404 unknown; 409 not cancellable (not paid yet, or ended)

POST /orders checks stock before accepting anything. By default (settings.stock_check "table")
it looks in its own copy of the compacted `stock` topic (stock_view.py), with no round trip.
With "request-reply" it asks inventory instead (lesson 13): StockCheckRequested (keyed by a
fresh correlation_id) on `inventory-requests`, then it waits up to settings.request_timeout for
the StockCheckReplied on `inventory-replies` that carries the same correlation_id. Only an
available answer produces OrderCreated on `order-events`, with the card reduced to its last
four digits.

The group consumer reads `inventory-events` and `payments`; each trigger is put to the pure
state machine (state.py) and every resulting step is published as OrderStatusChanged. Illegal
triggers are logged and counted (kafkalab_order_illegal_transitions_total), never applied. A
premature one (PaymentCompleted read before InventoryReserved: two topics, no order between
them) is parked until the order is ready for it (parking.py), or refused after park_seconds. An
event for an order this replica has not seen yet makes the feed (feed.py, every replica's view of
all orders) read `order-events` to its end as of now; its OrderCreated was below that end, since
whatever caused the event read it first. Still not there, or the event is older than the view
itself: the order never existed, and the event goes straight to `order.DLT`. Only a view that
cannot catch up (the cluster in trouble) makes the event Retryable.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import TopicPartition
from prometheus_client.core import GaugeMetricFamily, Metric

from kafkalab import clients
from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import CUSTOMER_CANCELLED
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, new_id
from kafkalab.events.topics import (
    INVENTORY_EVENTS,
    INVENTORY_REPLIES,
    INVENTORY_REQUESTS,
    ORDER_EVENTS,
    PAYMENTS,
    STOCK,
)
from kafkalab.security import fields
from kafkalab.services.auth import InvalidToken, TokenSigner, bearer_token, token_key
from kafkalab.services.http import (
    RETRY_AFTER,
    HttpError,
    Request,
    Response,
    Route,
    Unavailable,
)
from kafkalab.services.order import api
from kafkalab.services.order.book import Order, OrderBook
from kafkalab.services.order.feed import ReplicaFeed
from kafkalab.services.order.parking import Parked, ParkingLot
from kafkalab.services.order.replies import ReplyBoard
from kafkalab.services.order.requests import InvalidOrder, OrderRequest, parse_order
from kafkalab.services.order.state import (
    CANCEL_REQUESTED,
    TRIGGERS,
    Decision,
    OrderStatus,
    Transition,
    decide,
)
from kafkalab.services.order.stock_view import StockView
from kafkalab.services.runtime import Acknowledgement, DeliveryPoller, Retryable, Service
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.order")

FEED_CATCH_UP_S = 15.0
"""How long an event of an order the view does not hold yet waits for the view to read
`order-events` to its end (see `OrderService._read_order_events_to_now`)."""
STOCK_CATCH_UP_S = 2.0
"""How long a stock-view refusal waits for the view to read `stock` to its end first."""
CANCEL_WAIT = 5.0
"""How long a cancel of a PAID order waits for its stock commit to make it CONFIRMED."""


class UnknownOrder(Exception):
    """An event for an order that cannot be in flight any more: dead-lettered at once."""


class OrderService(Service):
    name = "order"
    subscriptions = (INVENTORY_EVENTS, PAYMENTS)
    # 5 attempts, 0.1 → 0.8 s apart, each letting the view catch up for up to FEED_CATCH_UP_S:
    # a Retryable is a cluster the view cannot read, not an order it has not read yet.
    max_attempts = 5
    backoff_seconds = 0.1
    park_seconds = 30.0
    """How long an early event waits for its order to be ready before it is refused."""

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        super().__init__(settings, conn, replica, port)
        self.signer = TokenSigner(token_key(settings))
        self.card_key = fields.sealer(settings, "card")  # public half only: seal, never open
        self.book = OrderBook()
        self.replies = ReplyBoard()
        self.stock = StockView() if settings.stock_check == "table" else None
        self.feed = ReplicaFeed(
            conn, self._on_feed, f"order-{replica}", stock_table=self.stock is not None
        )
        self.parking = ParkingLot()
        self._recheck: set[str] = set()
        self._recheck_lock = threading.Lock()
        registry = self.metrics.registry
        self.orders_created = specs.counter(specs.ORDERS_CREATED, registry)
        self.order_value = specs.counter(specs.ORDER_REVENUE, registry)
        self.stock_checks = specs.counter(specs.ORDER_STOCK_CHECKS, registry)
        self.transitions = specs.counter(specs.ORDER_TRANSITIONS, registry)
        self.illegal = specs.counter(specs.ORDER_ILLEGAL, registry)
        self.parked_total = specs.counter(specs.ORDER_PARKED, registry)
        registry.register(_OrdersByStatus(self.book))

    # -- lifecycle ------------------------------------------------------------------------------

    def run(self) -> int:
        """Rebuild the order view from `order-events` before serving anything, so GET works
        after a restart and no trigger is judged against a stale status."""
        self.feed.start()
        deliveries = DeliveryPoller(self.producer, f"order-{self.replica}-deliveries")
        deliveries.start()
        try:
            if not self.feed.wait_caught_up(self.settings.start_timeout):
                raise KafkalabError(
                    f"could not read order-events within {self.settings.start_timeout:g} s",
                    hint="check that the cluster is up (`kafkalab cluster status`)",
                )
            log.info("order view ready", extra={"fields": {"orders": len(self.book)}})
            return super().run()
        finally:
            deliveries.stop()
            self.feed.stop()

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST",
                "/orders",
                self.create_order,
                body=api.OrderBody,
                answer=api.OrderAccepted,
                status=201,
                bearer=True,
                errors={
                    401: "no token, or a token that is expired or not signed by user",
                    409: "out of stock (the body lists `missing_skus` too)",
                    422: "the body is not what the schema says (one sentence says what)",
                    503: "Kafka did not acknowledge the order in time; try again",
                    504: "inventory did not answer the stock check in time "
                    "(KAFKALAB_STOCK_CHECK=request-reply)",
                },
            ),
            Route(
                "GET",
                "/orders/{order_id}",
                self.get_order,
                answer=api.OrderView,
                errors={404: "no such order (yet) in this replica's view"},
            ),
            Route(
                "POST",
                "/orders/{order_id}/cancel",
                self.cancel_order,
                answer=api.OrderAccepted,
                bearer=True,
                errors={
                    401: "no token, or a token that is expired or not signed by user",
                    403: "the order belongs to another customer",
                    404: "no such order (yet) in this replica's view",
                    409: "only a paid order can be cancelled (not yet paid, or already ended)",
                    503: "Kafka did not acknowledge the cancellation in time; try again",
                },
            ),
        ]

    def health(self) -> dict[str, Any]:
        return {
            "orders": len(self.book),
            "view_caught_up": self.feed.caught_up,
            "stock_check": self.settings.stock_check,
            "pending_stock_checks": len(self.replies),
            "parked_events": len(self.parking),
        }

    # -- HTTP -----------------------------------------------------------------------------------

    def create_order(self, request: Request) -> Response:
        """Place an order: 201 once its OrderCreated is on `order-events`.

        First a stock check: in the replica's stock view, or with inventory over Kafka
        (request-reply on `inventory-requests` / `inventory-replies`); then the OrderCreated
        event, which inventory, payment, notification and analytics take from there.
        `GET /orders/{order_id}` follows it. Neither check reserves anything: inventory does,
        on OrderCreated."""
        user_id = self._authenticate(request)
        try:
            order = parse_order(request.body)
        except InvalidOrder as exc:
            raise HttpError(422, str(exc)) from exc
        trace = new_id()  # one customer action: the stock check and the order share a trace
        reply: Event | None = None
        if self.stock is None:
            reply = self._check_stock(order, trace)
            available, missing = bool(reply.value["available"]), list(reply.value["missing_skus"])
        else:
            missing = self.stock.missing(order.items())
            if missing and self._read_stock_to_now():
                # Read-your-writes: a refusal is judged on `stock` as it is now, so a restock
                # that was just answered (its StockLevel committed) is never refused.
                missing = self.stock.missing(order.items())
            available = not missing
        if not available:
            self.stock_checks.labels("unavailable").inc()
            return Response(
                409,
                {
                    "error": f"out of stock: {', '.join(missing) or 'unknown'}",
                    "missing_skus": missing,
                },
            )
        self.stock_checks.labels("available").inc()
        order_id = str(uuid.uuid4())
        value = {
            "order_id": order_id,
            "user_id": user_id,
            "items": order.items(),
            "total_cents": order.total_cents,
            "card_masked": order.card_masked,
            "card_number": self._seal_card(order.card_number, order_id),
        }
        acked = Acknowledgement()
        with self.book.lock:
            full = self.emit(
                ORDER_EVENTS,
                order_id,
                "OrderCreated",
                value,
                cause=reply,
                trace_id=trace,
                on_delivery=acked,
            )
            self.book.created(full)
        if not acked.wait(self.producer, self.settings.publish_timeout):
            self.book.forget(order_id)
            raise Unavailable("Kafka did not acknowledge the order; try again")
        self.orders_created.inc()
        self.order_value.inc(order.total_cents)
        log.info("order created", extra={"fields": {"order_id": order_id, "user_id": user_id}})
        return Response(201, {"order_id": order_id, "status": str(OrderStatus.CREATED)})

    def _seal_card(self, card_number: str, order_id: str) -> str:
        """Sealed for payment, bound to this order (secure mode); order cannot open it again."""
        if self.card_key is None:
            return ""
        return fields.seal(self.card_key, card_number, "card", order_id)

    def get_order(self, request: Request) -> Response:
        """The order's status and history, as read back from `order-events`."""
        snapshot = self.book.snapshot(request.params["order_id"])
        if snapshot is None:
            raise HttpError(404, f"no order {request.params['order_id']!r}")
        return Response(200, snapshot)

    def cancel_order(self, request: Request) -> Response:
        """The customer cancels a paid order: 200 once its OrderStatusChanged CONFIRMED →
        CANCELLED (reason "customer_cancelled") is on `order-events`. Inventory puts the sold
        stock back when it reads it; the payment is a refund service's to give back.

        A PAID order is moments from CONFIRMED (inventory is committing its stock): the cancel
        waits up to CANCEL_WAIT s for that rather than racing the commit."""
        user_id = self._authenticate(request)
        order_id = request.params["order_id"]
        deadline = time.monotonic() + CANCEL_WAIT
        while True:
            with self.book.lock:
                order = self.book.find(order_id)
                if order is None:
                    raise HttpError(404, f"no order {order_id!r}")
                if order.user_id != user_id:
                    raise HttpError(403, "this order belongs to another customer")
                decision = decide(order.status, CANCEL_REQUESTED, CUSTOMER_CANCELLED)
                if decision.legal:
                    acked = self._cancel(order, decision)
                    break
            if order.status != OrderStatus.PAID or time.monotonic() >= deadline:
                raise HttpError(409, _not_cancellable(order.status))
            time.sleep(0.05)
        if not acked.wait(self.producer, self.settings.publish_timeout):
            raise HttpError(
                503, "Kafka did not acknowledge the cancellation in time; GET the order to see"
            )
        self.transitions.labels(str(OrderStatus.CONFIRMED), str(OrderStatus.CANCELLED)).inc()
        log.info("order cancelled by its customer", extra={"fields": {"order_id": order_id}})
        return Response(200, {"order_id": order_id, "status": str(OrderStatus.CANCELLED)})

    def _cancel(self, order: Order, decision: Decision) -> Acknowledgement:
        """Emit the cancel's one step and record it (book lock held, so the feed cannot
        interleave a change of the same order)."""
        (step,) = decision.transitions
        acked = Acknowledgement()
        full = self.emit(
            ORDER_EVENTS,
            order.order_id,
            "OrderStatusChanged",
            _status_change(order, step),
            trace_id=new_id(),  # one customer action, one trace
            on_delivery=acked,
        )
        self.book.record(order, step, full["event_id"], full["occurred_at"], "")
        return acked

    def _authenticate(self, request: Request) -> str:
        token = bearer_token(request.headers)
        if token is None:
            raise HttpError(
                401, "log in first (POST /login) and send Authorization: Bearer <token>"
            )
        try:
            return self.signer.verify(token).user_id
        except InvalidToken as exc:
            raise HttpError(401, f"the token was refused ({exc}); log in again") from exc

    def _check_stock(self, order: OrderRequest, trace: str) -> Event:
        """Ask inventory and wait for its answer; HttpError 504 when none comes in time."""
        correlation_id = str(uuid.uuid4())
        pending = self.replies.expect(correlation_id)
        acked = Acknowledgement()
        try:
            self.emit(
                INVENTORY_REQUESTS,
                correlation_id,
                "StockCheckRequested",
                {
                    "correlation_id": correlation_id,
                    "reply_to": INVENTORY_REPLIES,
                    "items": order.items(),
                },
                trace_id=trace,
                on_delivery=acked,
            )
            if not acked.wait(self.producer, self.settings.publish_timeout):
                raise Unavailable("Kafka did not acknowledge the stock check; try again")
            reply = pending.wait(self.settings.request_timeout)
        finally:
            self.replies.forget(correlation_id)
        if reply is None:
            self.stock_checks.labels("timeout").inc()
            # No order exists yet, so the client may simply ask again (Retry-After).
            raise HttpError(
                504,
                f"inventory did not answer the stock check within "
                f"{self.settings.request_timeout:g} s",
                retry_after=RETRY_AFTER,
            )
        return reply

    # -- events ---------------------------------------------------------------------------------

    def _on_feed(self, event: Event) -> None:
        """Feed thread: replies wake their request (or levels update the stock view);
        order-events keep the view current."""
        if event.topic == STOCK:
            if self.stock is not None:
                self.stock.apply(event)
        elif event.topic == INVENTORY_REPLIES:
            if event.type == "StockCheckReplied":
                self.replies.deliver(event)
        elif event.type == "OrderCreated":
            self.book.created(event.value)
        elif event.type == "OrderStatusChanged" and self.book.changed(
            event.value, event.causation_id or None
        ):
            # Another replica moved this order: events parked here may fit now.
            with self._recheck_lock:
                self._recheck.add(str(event.value["order_id"]))

    def handle(self, event: Event) -> None:
        """Apply an inventory or payment event to its order (see the module docstring)."""
        if event.type not in TRIGGERS:
            return  # StockReleased, StockLevel…: not ours to act on
        order_id = str(event.value["order_id"])
        for caught_up in (False, True):
            with self.book.lock:
                order = self.book.find(order_id)
                if order is not None:
                    parked = Parked(order_id, event, time.monotonic() + self.park_seconds)
                    if self._apply(order, parked):
                        self._unpark(order)
                    return
                if not self.feed.could_be_in_flight(event.timestamp_ms):
                    raise UnknownOrder(f"order {order_id} was never created (not on order-events)")
            if caught_up:
                # The view now holds all of order-events as of after this event was written,
                # and whatever caused the event read its OrderCreated before that: none exists.
                raise UnknownOrder(
                    f"order {order_id} was never created (not on order-events up to its end)"
                )
            if not self._read_order_events_to_now():
                raise Retryable(f"order {order_id} is not known here yet")

    def _read_order_events_to_now(self) -> bool:
        """Let the view read `order-events` up to its end as of now (at most FEED_CATCH_UP_S).

        The event's cause read the OrderCreated, so it is below that end. Usually the view is a
        moment behind; after a network partition or a broker election it can be seconds
        behind, and an event dead-lettered then as "not known" would leave its order stuck.
        The ends come through the admin client: asked through the group consumer, each queued
        behind its long-poll fetch, and six of them held the whole consumer up for 3 s.
        Called without the book's lock: the feed takes it.
        """
        return self.feed.read_to(self._ends, FEED_CATCH_UP_S)

    def _read_stock_to_now(self) -> bool:
        """Let the stock view read `stock` up to its end as of now (at most STOCK_CATCH_UP_S)."""
        return self.feed.read_stock_to(self._ends, STOCK_CATCH_UP_S)

    def _ends(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """End offsets through the admin client's own connection (see the feed's reads)."""
        return clients.high_watermarks(self.admin, partitions, timeout=2.0)

    def tick(self) -> None:
        """Retry parked events of orders other replicas moved; refuse the ones out of time;
        let go of those whose partition was handed to another replica."""
        with self._recheck_lock:
            moved, self._recheck = self._recheck, set()
        with self.book.lock:
            for order_id in moved:
                order = self.book.find(order_id)
                if order is not None:
                    self._unpark(order)
            for parked in self.parking.expired(time.monotonic()):
                order = self.book.find(parked.order_id)
                if order is not None:
                    decision = decide(order.status, parked.event.type)
                    self._refuse(order, decision, "waited too long for its turn")
        if len(self.parking):
            assigned = {(tp.topic, tp.partition) for tp in self.assigned}
            self.parking.drop_unassigned(assigned)

    def commit_offsets(self) -> list[TopicPartition] | None:
        """Never commit past a parked event: after a crash it must be read again. (Events
        after it that were applied are recognised as repeats and skipped.)"""
        lowest = self.parking.lowest_offsets()
        if not lowest:
            return None
        assert self.consumer is not None
        offsets = []
        for tp in self.consumer.position(self.consumer.assignment()):
            key = (tp.topic, tp.partition)
            if key in lowest:
                offsets.append(TopicPartition(tp.topic, tp.partition, lowest[key]))
            elif tp.offset >= 0:
                offsets.append(TopicPartition(tp.topic, tp.partition, tp.offset))
        return offsets

    def _apply(self, order: Order, parked: Parked) -> bool:
        """Decide and apply one trigger (book lock held). True when the order moved; a
        premature trigger is parked, an illegal one refused."""
        event = parked.event
        if event.event_id in order.causes:
            return False  # a redelivery of an event already applied
        reason = event.value.get("reason") if event.type == "PaymentFailed" else None
        decision = decide(order.status, event.type, reason)
        if decision.premature:
            self.parking.park(parked)
            self.parked_total.labels(event.type).inc()
            log.info(
                "early event parked",
                extra={
                    "fields": {
                        "order_id": order.order_id,
                        "status": str(order.status),
                        "trigger": event.type,
                    }
                },
            )
            return False
        if not decision.legal:
            self._refuse(order, decision, "not a legal transition")
            return False
        for step in decision.transitions:
            full = self.emit(
                ORDER_EVENTS,
                order.order_id,
                "OrderStatusChanged",
                _status_change(order, step),
                cause=event,
            )
            self.book.record(order, step, full["event_id"], full["occurred_at"], event.event_id)
            self.transitions.labels(str(step.from_status), str(step.to_status)).inc()
        return True

    def _unpark(self, order: Order) -> None:
        """Try the order's parked events again, oldest first, until none of them fits."""
        moved = True
        while moved:
            moved = False
            for parked in self.parking.take(order.order_id):
                moved = self._apply(order, parked) or moved

    def _refuse(self, order: Order, decision: Decision, why: str) -> None:
        self.illegal.labels(str(decision.status), decision.trigger).inc()
        log.warning(
            "illegal transition refused",
            extra={
                "fields": {
                    "order_id": order.order_id,
                    "status": str(decision.status),
                    "trigger": decision.trigger,
                    "why": why,
                }
            },
        )


def _not_cancellable(status: OrderStatus) -> str:
    if status == OrderStatus.CANCELLED:
        return "the order is already cancelled"
    if status in (OrderStatus.REJECTED,):
        return "the order was rejected (out of stock): nothing was paid, nothing to cancel"
    if status == OrderStatus.PAID:
        return f"the order is still being confirmed after {CANCEL_WAIT:g} s; try again"
    return f"the order is {status}, not paid yet: only a paid order can be cancelled"


class _OrdersByStatus:
    """kafkalab_orders{status}: read from the view at scrape time, so it is never stale."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book

    def collect(self) -> Iterator[Metric]:
        spec = specs.ORDERS_BY_STATUS
        gauge = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for status, count in self.book.counts().items():
            gauge.add_metric([str(status)], count)
        yield gauge

    def describe(self) -> Iterator[Metric]:
        return iter(())


def _status_change(order: Order, step: Transition) -> dict[str, Any]:
    """The OrderStatusChanged value of one step of `order` (a customer's cancel or a
    transition the feed of inventory and payment events caused)."""
    return {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "from_status": str(step.from_status),
        "to_status": str(step.to_status),
        "reason": step.reason,
    }
