"""The invariant checker against the real broker: plant an order's events, read them back.

Each test writes, as the services would (Avro through the registry, causal headers, the
platform topics), the events of orders with ids of its own, then runs `verify` with
since_ms = the test's start and order_ids = its orders: other modules share these topics.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events import topics as t
from kafkalab.events.serde import Event, EventSerde
from kafkalab.observe.verify import (
    KNOWN_CAUSES,
    NOTIFICATIONS,
    ONE_PAYMENT,
    STOCK_BALANCED,
    TERMINAL_STATE,
    VerifyReport,
    verify,
    verify_orders,
)
from kafkalab.settings import Settings
from tests.integration.services import ensure_topics

pytestmark = pytest.mark.integration

ITEMS = [{"sku": "SKU-MUG", "quantity": 2, "unit_price_cents": 1299}]
TOTAL = 2598
ORDER_SCOPED = (TERMINAL_STATE, ONE_PAYMENT, STOCK_BALANCED, NOTIFICATIONS, KNOWN_CAUSES)


class Shop:
    """Writes what the six services would write for an order, cause by cause."""

    def __init__(self, conn: Connection) -> None:
        self.serde = EventSerde(conn)
        self.producer = clients.producer(conn)

    def emit(
        self,
        topic: str,
        key: str,
        record_type: str,
        value: dict[str, Any],
        service: str,
        cause: Event | None = None,
    ) -> Event:
        full, headers = self.serde.envelope(record_type, value, service, cause)
        data = self.serde.serialize(topic, record_type, full)
        self.producer.produce(topic, key=key.encode(), value=data, headers=headers)
        decoded = {k: v.decode() for k, v in headers}
        return Event(topic, -1, -1, key, record_type, full, decoded)

    def flush(self) -> None:
        assert self.producer.flush(15) == 0

    def created(self, order_id: str, user_id: str) -> Event:
        value = {
            "order_id": order_id,
            "user_id": user_id,
            "items": ITEMS,
            "total_cents": TOTAL,
            "card_masked": "****4242",
        }
        return self.emit(t.ORDER_EVENTS, order_id, "OrderCreated", value, "order")

    def change(self, order: Event, old: str, new: str, cause: Event) -> Event:
        value = {
            "order_id": order.value["order_id"],
            "user_id": order.value["user_id"],
            "from_status": old,
            "to_status": new,
            "reason": cause.type,
        }
        return self.emit(
            t.ORDER_EVENTS, order.value["order_id"], "OrderStatusChanged", value, "order", cause
        )

    def reserved(self, order: Event) -> Event:
        value = {
            **_ids(order),
            "total_cents": TOTAL,
            "card_masked": "****4242",
            "items": ITEMS,
            "expires_at": int(time.time() * 1000) + 10_000,
        }
        return self.emit(
            t.INVENTORY_EVENTS,
            order.value["order_id"],
            "InventoryReserved",
            value,
            "inventory",
            order,
        )

    def paid(self, order: Event, cause: Event) -> Event:
        value = {
            **_ids(order),
            "payment_id": str(uuid.uuid4()),
            "amount_cents": TOTAL,
            "card_masked": "****4242",
            "attempts": 1,
        }
        return self.emit(
            t.PAYMENTS, order.value["order_id"], "PaymentCompleted", value, "payment", cause
        )

    def committed(self, order: Event, cause: Event, items: list[dict[str, Any]] = ITEMS) -> Event:
        value = {**_ids(order), "items": items}
        return self.emit(
            t.INVENTORY_EVENTS, order.value["order_id"], "StockCommitted", value, "inventory", cause
        )

    def notified(self, order: Event, change: Event, template: str) -> None:
        """Requested on `notifications` and the channel topic, then sent — email and push only:
        this user has no phone, so no sms is owed."""
        for channel in ("email", "push"):
            value = {
                **_ids(order),
                "notification_id": f"{change.event_id}/{channel}",
                "channel": channel,
                "template": template,
                "recipient_masked": "a***@example.com",
                "user_name": "Ada",
            }
            user = order.value["user_id"]
            copy = self.emit(  # once, on its channel's topic, as notification writes it
                t.CHANNEL_TOPICS[channel],
                user,
                "NotificationRequested",
                value,
                "notification",
                change,
            )
            sent = {k: value[k] for k in ("notification_id", "order_id", "user_id", "channel")}
            self.emit(t.NOTIFICATIONS, user, "NotificationSent", sent, "notification", copy)

    def confirmed(self, order_id: str, *, skip_commit: bool = False) -> dict[str, Event]:
        """A whole happy order; `skip_commit` stops it after payment (stock never committed)."""
        user = f"user-{uuid.uuid4().hex[:8]}"
        order = self.created(order_id, user)
        reserved = self.reserved(order)
        self.change(order, "CREATED", "RESERVED", reserved)
        payment = self.paid(order, reserved)
        self.change(order, "RESERVED", "PAID", payment)
        steps = {"order": order, "reserved": reserved, "payment": payment}
        if skip_commit:
            return steps
        committed = self.committed(order, payment)
        done = self.change(order, "PAID", "CONFIRMED", committed)
        self.notified(order, done, "order-confirmed")
        return steps


def _ids(order: Event) -> dict[str, Any]:
    return {"order_id": order.value["order_id"], "user_id": order.value["user_id"]}


@pytest.fixture
def shop(conn: Connection, cluster: Settings) -> Iterator[Shop]:
    ensure_topics(conn)
    yield Shop(conn)


@pytest.fixture
def started_ms() -> int:
    return int(time.time() * 1000) - 1  # the planted events are stamped after this


def new_order_id() -> str:
    return f"verify-{uuid.uuid4()}"


def assert_named(report: VerifyReport, name: str, order_id: str) -> None:
    inv = report.invariant(name)
    assert inv.ok is False, inv
    assert inv.violations == 1, inv
    assert any(example.startswith(f"{order_id}: ") for example in inv.examples), inv.examples
    assert report.passed is False


def test_a_clean_order_passes_every_order_invariant(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    order_id = new_order_id()
    shop.confirmed(order_id)
    shop.flush()
    report = verify(conn, since_ms=started_ms, order_ids=[order_id])
    assert report.orders == 1
    assert report.outcomes == {"CONFIRMED": 1}
    assert report.revenue_cents == TOTAL
    for name in ORDER_SCOPED:
        inv = report.invariant(name)
        assert inv.ok is True, inv
        assert inv.checked >= 1, inv
    assert report.invariant(NOTIFICATIONS).checked == 1
    # 5 order + 2 inventory + 1 payment + 4 notification (per channel: request and send)
    assert report.invariant(KNOWN_CAUSES).checked >= 11


def test_a_planted_duplicate_payment_is_named(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    clean, doubled = new_order_id(), new_order_id()
    shop.confirmed(clean)
    steps = shop.confirmed(doubled)
    shop.paid(steps["order"], steps["reserved"])  # the gateway charged twice
    shop.flush()
    report = verify(conn, since_ms=started_ms, order_ids=[clean, doubled])
    assert_named(report, ONE_PAYMENT, doubled)
    assert report.invariant(ONE_PAYMENT).checked == 2
    assert "2 PaymentCompleted" in report.invariant(ONE_PAYMENT).examples[0]
    for name in (TERMINAL_STATE, STOCK_BALANCED, NOTIFICATIONS, KNOWN_CAUSES):
        assert report.invariant(name).ok is True, report.invariant(name)


def test_a_missing_terminal_state_is_named(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    order_id = new_order_id()
    order = shop.created(order_id, "user-stuck")
    reserved = shop.reserved(order)
    shop.change(order, "CREATED", "RESERVED", reserved)
    shop.flush()
    report = verify(conn, since_ms=started_ms, order_ids=[order_id])
    assert_named(report, TERMINAL_STATE, order_id)
    assert report.invariant(TERMINAL_STATE).examples == [
        f"{order_id}: still in flight (CREATED → RESERVED)"
    ]
    assert report.outcomes == {"RESERVED": 1}


def test_an_order_that_never_reached_the_topics_is_lost(
    conn: Connection, cluster: Settings, started_ms: int
) -> None:
    ensure_topics(conn)
    ghost = new_order_id()
    report = verify(conn, since_ms=started_ms, order_ids=[ghost])
    assert_named(report, TERMINAL_STATE, ghost)
    assert "lost" in report.invariant(TERMINAL_STATE).examples[0]


def test_a_stock_mismatch_is_named(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    uncommitted, short = new_order_id(), new_order_id()
    shop.confirmed(uncommitted, skip_commit=True)  # paid, but the stock stays reserved forever
    steps = shop.confirmed(short, skip_commit=True)
    one_mug = [{"sku": "SKU-MUG", "quantity": 1, "unit_price_cents": 1299}]
    committed = shop.committed(steps["order"], steps["payment"], items=one_mug)
    done = shop.change(steps["order"], "PAID", "CONFIRMED", committed)
    shop.notified(steps["order"], done, "order-confirmed")
    shop.flush()
    report = verify(conn, since_ms=started_ms, order_ids=[uncommitted, short])
    inv = report.invariant(STOCK_BALANCED)
    assert inv.ok is False and inv.violations == 2
    assert sorted(inv.examples) == sorted(
        [
            f"{uncommitted}: reserved 2×SKU-MUG, committed nothing, released nothing",
            f"{short}: reserved 2×SKU-MUG, committed 1×SKU-MUG, released nothing",
        ]
    )


def test_an_unknown_cause_is_named(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    order_id = new_order_id()
    steps = shop.confirmed(order_id)
    ghost = Event("nowhere", 0, 0, None, "Ghost", {"event_id": str(uuid.uuid4())})
    shop.emit(
        t.INVENTORY_EVENTS, order_id, "ReservationExpired", _ids(steps["order"]), "inventory", ghost
    )
    shop.flush()
    report = verify(conn, since_ms=started_ms, order_ids=[order_id])
    assert_named(report, KNOWN_CAUSES, order_id)
    assert ghost.event_id in report.invariant(KNOWN_CAUSES).examples[0]


def test_verify_orders_waits_for_a_run_to_settle(
    conn: Connection, cluster: Settings, shop: Shop, started_ms: int
) -> None:
    """The run's last step lands while verify_orders is already reading: it reads again."""
    order_id = new_order_id()
    steps = shop.confirmed(order_id, skip_commit=True)
    shop.flush()
    assert (
        verify(conn, since_ms=started_ms, order_ids=[order_id]).invariant(TERMINAL_STATE).ok
        is False
    )
    notes: list[str] = []

    def finish_the_order(note: str) -> None:
        notes.append(note)
        if len(notes) == 1:  # after the first unsettled read, the services "catch up"
            committed = shop.committed(steps["order"], steps["payment"])
            done = shop.change(steps["order"], "PAID", "CONFIRMED", committed)
            shop.notified(steps["order"], done, "order-confirmed")
            shop.flush()

    report = verify_orders(
        # The window's other invariants never settle here (no analytics runs on the session
        # cluster), so it reads until the deadline: 8 s is plenty for the second read.
        conn,
        [order_id],
        since_ms=started_ms,
        settle_seconds=8,
        notify=finish_the_order,
    )
    assert notes and "terminal state" in notes[0]
    for name in ORDER_SCOPED:
        assert report.invariant(name).ok is True, report.invariant(name)
