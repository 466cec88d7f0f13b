"""The inventory service on the real broker: stock checks, reservations, sales, expiries, restarts.

Each test sells SKUs of its own (a catalogue with unique SKU names), so the session's shared
`stock` table and the other tests' orders cannot change what a test sees.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkalab import localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde
from kafkalab.events.topics import (
    INVENTORY_EVENTS,
    INVENTORY_REPLIES,
    INVENTORY_REQUESTS,
    ORDER_EVENTS,
    PAYMENTS,
    STOCK,
)
from kafkalab.services.inventory.service import InventoryService
from kafkalab.services.products import Product
from kafkalab.services.tables import read_to_end
from kafkalab.settings import Settings
from tests.integration.services import ensure_topics, publish, read_events, read_raw, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def topics(conn: Connection, cluster: Settings) -> None:
    ensure_topics(conn)


def shop(**units: int) -> tuple[type[InventoryService], dict[str, str]]:
    """An inventory selling unique SKUs: returns the class and {short name: real SKU}."""
    names = {short: f"SKU-T{short}-{uuid.uuid4().hex[:8]}" for short in units}

    class TestInventory(InventoryService):
        catalogue = {
            names[short]: Product(names[short], short, 1_000, count)
            for short, count in units.items()
        }

    return TestInventory, names


def item(sku: str, quantity: int) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price_cents": 1_000}


def order_created(conn: Connection, items: list[dict[str, Any]], order_id: str = "") -> dict:
    order_id = order_id or f"order-{uuid.uuid4().hex[:10]}"
    total = sum(i["quantity"] * i["unit_price_cents"] for i in items)
    value = {
        "order_id": order_id,
        "user_id": f"user-{order_id}",
        "items": items,
        "total_cents": total,
        "card_masked": "**** 4242",
    }
    return publish(conn, ORDER_EVENTS, order_id, "OrderCreated", value, service="order")


def of_order(order_id: str, event_type: str) -> Callable[[Event], bool]:
    return lambda e: e.value.get("order_id") == order_id and e.type == event_type


def level(service: InventoryService, sku: str) -> dict[str, int]:
    response = localhttp.get(f"http://127.0.0.1:{service.port}/stock/{sku}", timeout=5)
    assert response.status_code == 200, response.text
    return {k: response.json()[k] for k in ("available", "reserved")}


def latest_levels(conn: Connection, sku: str, count: int) -> list[dict[str, Any]]:
    """The first `count` StockLevel records of `sku` on the `stock` table, in order."""
    return [e.value for e in read_events(conn, STOCK, count, where=lambda e: e.key == sku)]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def counted(service: InventoryService, outcome: str) -> float:
    value = service.metrics.registry.get_sample_value(
        "kafkalab_inventory_reservations_total", {"outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
def serde(conn: Connection, cluster: Settings) -> EventSerde:
    return EventSerde(conn)


def test_a_stock_check_is_answered_on_reply_to_matched_by_correlation_id(
    conn: Connection,
    cluster: Settings,
) -> None:
    cls, sku = shop(A=3)
    with running(cls, cluster, conn) as service:
        yes, no = f"corr-{uuid.uuid4().hex}", f"corr-{uuid.uuid4().hex}"
        asked = publish(
            conn,
            INVENTORY_REQUESTS,
            yes,
            "StockCheckRequested",
            {"correlation_id": yes, "reply_to": INVENTORY_REPLIES, "items": [item(sku["A"], 3)]},
        )
        publish(
            conn,
            INVENTORY_REQUESTS,
            no,
            "StockCheckRequested",
            {
                "correlation_id": no,
                "reply_to": INVENTORY_REPLIES,
                "items": [item(sku["A"], 4), item("SKU-NOT-SOLD", 1)],
            },
        )
        replies = read_events(conn, INVENTORY_REPLIES, 2, where=lambda e: e.key in (yes, no))
        by_key = {e.key: e for e in replies}
        assert set(by_key) == {yes, no}
        assert by_key[yes].type == "StockCheckReplied"
        assert by_key[yes].value["correlation_id"] == yes
        assert by_key[yes].value["available"] is True and by_key[yes].value["missing_skus"] == []
        assert by_key[yes].causation_id == asked["event_id"]
        assert by_key[yes].service == "inventory"
        assert by_key[no].value["available"] is False
        assert by_key[no].value["missing_skus"] == sorted([sku["A"], "SKU-NOT-SOLD"])
        assert level(service, sku["A"]) == {"available": 3, "reserved": 0}  # nothing reserved


def test_order_created_reserves_all_items_once(
    conn: Connection, cluster: Settings, serde: EventSerde
) -> None:
    cls, sku = shop(A=5, B=2)
    with running(cls, cluster, conn) as service:
        items = [item(sku["A"], 3), item(sku["B"], 2)]
        created = order_created(conn, items)
        order_id = created["order_id"]
        [reserved] = read_events(
            conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "InventoryReserved")
        )
        value = reserved.value
        assert value["user_id"] == created["user_id"]
        assert value["total_cents"] == created["total_cents"] == 5_000
        assert value["card_masked"] == "**** 4242"
        assert value["items"] == items
        ttl_ms = int(cluster.reservation_ttl * 1000)
        assert (
            created["occurred_at"] + ttl_ms <= value["expires_at"] <= value["occurred_at"] + ttl_ms
        )
        assert reserved.causation_id == created["event_id"] and reserved.key == order_id
        assert level(service, sku["A"]) == {"available": 2, "reserved": 3}
        assert level(service, sku["B"]) == {"available": 0, "reserved": 2}
        # the compacted table got the new level (after the seeded one)
        seeded, after = latest_levels(conn, sku["A"], 2)
        assert (seeded["available"], seeded["reserved"]) == (5, 0)
        assert (after["available"], after["reserved"]) == (2, 3)

        before = counted(service, "duplicate")
        order_created(conn, items, order_id=order_id)  # redelivered
        wait_for(lambda: counted(service, "duplicate") > before, "the duplicate was handled")
        events = read_to_end(conn, serde, [INVENTORY_EVENTS])
        assert [e.type for e in events if e.value.get("order_id") == order_id] == [
            "InventoryReserved"
        ]
        assert level(service, sku["A"]) == {"available": 2, "reserved": 3}


def test_insufficient_stock_is_out_of_stock_and_reserves_nothing(
    conn: Connection, cluster: Settings
) -> None:
    cls, sku = shop(A=5, B=1)
    with running(cls, cluster, conn) as service:
        created = order_created(conn, [item(sku["A"], 2), item(sku["B"], 2)])
        [refused] = read_events(
            conn, INVENTORY_EVENTS, 1, where=of_order(created["order_id"], "OutOfStock")
        )
        assert refused.value["missing_skus"] == [sku["B"]]
        assert refused.value["user_id"] == created["user_id"]
        assert level(service, sku["A"]) == {"available": 5, "reserved": 0}
        assert level(service, sku["B"]) == {"available": 1, "reserved": 0}


def test_payment_completed_commits_the_stock(conn: Connection, cluster: Settings) -> None:
    cls, sku = shop(A=4)
    with running(cls, cluster, conn) as service:
        created = order_created(conn, [item(sku["A"], 3)])
        order_id = created["order_id"]
        assert read_events(conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "InventoryReserved"))
        paid = publish(
            conn,
            PAYMENTS,
            order_id,
            "PaymentCompleted",
            {
                "order_id": order_id,
                "user_id": created["user_id"],
                "payment_id": "p-1",
                "amount_cents": 3_000,
                "card_masked": "**** 4242",
                "attempts": 1,
            },
            service="payment",
        )
        [committed] = read_events(
            conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "StockCommitted")
        )
        assert committed.value["items"] == [item(sku["A"], 3)]
        assert committed.causation_id == paid["event_id"]
        assert level(service, sku["A"]) == {"available": 1, "reserved": 0}
        status = localhttp.get(f"http://127.0.0.1:{service.port}/reservations/{order_id}").json()
        assert status["status"] == "committed"


def test_an_unpaid_reservation_expires_and_the_stock_goes_back(
    conn: Connection, cluster: Settings
) -> None:
    cls, sku = shop(A=2)
    short = cluster.model_copy(update={"reservation_ttl": 1.0})
    with running(cls, short, conn) as service:
        created = order_created(conn, [item(sku["A"], 2)])
        order_id = created["order_id"]
        publish(  # a failed payment keeps the reservation until it expires
            conn,
            PAYMENTS,
            order_id,
            "PaymentFailed",
            {
                "order_id": order_id,
                "user_id": created["user_id"],
                "amount_cents": 2_000,
                "reason": "insufficient_funds",
                "attempts": 1,
            },
            service="payment",
        )
        events = read_events(
            conn, INVENTORY_EVENTS, 3, where=lambda e: e.value.get("order_id") == order_id
        )
        assert [e.type for e in events] == [
            "InventoryReserved",
            "ReservationExpired",
            "StockReleased",
        ]
        reserved, expired, released = events
        assert expired.value["occurred_at"] >= reserved.value["expires_at"]
        assert released.value["reason"] == "expired"
        assert released.value["items"] == [item(sku["A"], 2)]
        assert released.causation_id == expired.event_id
        assert expired.trace_id == released.trace_id == reserved.trace_id
        assert level(service, sku["A"]) == {"available": 2, "reserved": 0}
        _, held, back = latest_levels(conn, sku["A"], 3)
        assert (held["available"], held["reserved"]) == (0, 2)
        assert (back["available"], back["reserved"]) == (2, 0)


def test_a_restarted_inventory_remembers_levels_and_open_reservations(
    conn: Connection, cluster: Settings, serde: EventSerde
) -> None:
    cls, sku = shop(A=6)
    with running(cls, cluster, conn) as first:
        created = order_created(conn, [item(sku["A"], 2)])
        order_id = created["order_id"]
        assert read_events(conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "InventoryReserved"))
        assert level(first, sku["A"]) == {"available": 4, "reserved": 2}
    with running(cls, cluster, conn) as second:
        wait_for(lambda: second.rebuilt, "the second inventory rebuilt its memory")
        assert level(second, sku["A"]) == {"available": 4, "reserved": 2}
        before = counted(second, "duplicate")
        order_created(conn, [item(sku["A"], 2)], order_id=order_id)  # redelivered after restart
        wait_for(lambda: counted(second, "duplicate") > before, "the duplicate was handled")
        publish(
            conn,
            PAYMENTS,
            order_id,
            "PaymentCompleted",
            {
                "order_id": order_id,
                "user_id": created["user_id"],
                "payment_id": "p-2",
                "amount_cents": 2_000,
                "card_masked": "**** 4242",
                "attempts": 1,
            },
            service="payment",
        )
        assert read_events(conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "StockCommitted"))
        assert level(second, sku["A"]) == {"available": 4, "reserved": 0}
    mine = [
        e.type
        for e in read_to_end(conn, serde, [INVENTORY_EVENTS])
        if e.value.get("order_id") == order_id
    ]
    assert mine == ["InventoryReserved", "StockCommitted"]


def test_an_invalid_order_is_dead_lettered(conn: Connection, cluster: Settings) -> None:
    cls, sku = shop(A=1)
    with running(cls, cluster, conn) as service:
        created = order_created(conn, [item(sku["A"], 0)])
        [dead] = read_raw(
            conn, "inventory.DLT", 1, where=lambda m: m.key() == created["order_id"].encode()
        )
        headers = dict(dead.headers())
        assert headers["error.type"] == b"InvalidOrder"
        assert headers["original.topic"] == ORDER_EVENTS.encode()
        assert level(service, sku["A"]) == {"available": 1, "reserved": 0}


def test_an_aborted_transaction_is_redone_and_reserves_once(
    conn: Connection, cluster: Settings, serde: EventSerde
) -> None:
    cls, sku = shop(A=3)
    with running(cls, cluster, conn) as service:
        order_id = f"order-{uuid.uuid4().hex[:10]}"
        failed: list[bool] = []
        real = service.producer

        class CommitFailsOnce:
            """The real producer, but the commit of the batch holding our order fails once."""

            def commit_transaction(self, *args: Any) -> None:
                if not failed and service.stock.status(order_id) is not None:
                    failed.append(True)
                    real.flush(10)  # the records reach the log, then get aborted
                    raise KafkaException(KafkaError(KafkaError._FAIL, "injected commit failure"))
                real.commit_transaction(*args)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        service.producer = CommitFailsOnce()  # type: ignore[assignment]
        order_created(conn, [item(sku["A"], 2)], order_id=order_id)
        assert read_events(conn, INVENTORY_EVENTS, 1, where=of_order(order_id, "InventoryReserved"))
        assert failed, "the commit failure was never injected"
        # Memory forgot the aborted reservation: the redo reserved (not "duplicate"), once.
        assert level(service, sku["A"]) == {"available": 1, "reserved": 2}
        mine = [
            e.type
            for e in read_to_end(conn, serde, [INVENTORY_EVENTS])
            if e.value.get("order_id") == order_id
        ]
        assert mine == ["InventoryReserved"]
        levels = [e.value for e in read_to_end(conn, serde, [STOCK]) if e.key == sku["A"]]
        assert [(v["available"], v["reserved"]) for v in levels] == [(3, 0), (1, 2)]
