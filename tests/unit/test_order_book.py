"""The order view: creation, transitions from the feed and from this replica, deduplication."""

from __future__ import annotations

from typing import Any

from kafkalab.events.serde import Event
from kafkalab.services.order.book import HistoryEntry, OrderBook
from kafkalab.services.order.replies import ReplyBoard
from kafkalab.services.order.state import OrderStatus, Transition

S = OrderStatus


def created(order_id: str = "o1") -> dict[str, Any]:
    return {
        "event_id": f"ev-created-{order_id}",
        "occurred_at": 1000,
        "order_id": order_id,
        "user_id": "u1",
        "items": [{"sku": "SKU-BOOK", "quantity": 1, "unit_price_cents": 4999}],
        "total_cents": 4999,
        "card_masked": "****4242",
    }


def changed(event_id: str, from_status: str, to_status: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": 2000,
        "order_id": "o1",
        "user_id": "u1",
        "from_status": from_status,
        "to_status": to_status,
        "reason": "InventoryReserved",
    }


def test_created_once_and_snapshot() -> None:
    book = OrderBook()
    assert book.created(created())
    assert not book.created(created())  # the feed brings our own OrderCreated back
    snapshot = book.snapshot("o1")
    assert snapshot is not None
    assert snapshot["status"] == "CREATED" and snapshot["total_cents"] == 4999
    assert snapshot["history"] == [
        {
            "from_status": None,
            "to_status": "CREATED",
            "reason": "OrderCreated",
            "at": 1000,
            "event_id": "ev-created-o1",
        }
    ]
    assert book.snapshot("missing") is None


def test_own_transition_is_not_applied_twice_when_the_feed_returns_it() -> None:
    book = OrderBook()
    book.created(created())
    order = book.find("o1")
    assert order is not None
    book.record(order, Transition(S.CREATED, S.RESERVED, "InventoryReserved"), "ev-1", 2000, "c1")
    assert not book.changed(changed("ev-1", "CREATED", "RESERVED"), "c1")
    assert len(order.history) == 2 and order.status == S.RESERVED
    assert "c1" in order.causes


def test_transitions_of_other_replicas_arrive_through_the_feed() -> None:
    book = OrderBook()
    book.created(created())
    assert book.changed(changed("ev-9", "CREATED", "RESERVED"), "cause-9")
    order = book.find("o1")
    assert order is not None and order.status == S.RESERVED
    assert order.history[-1] == HistoryEntry(
        "CREATED", "RESERVED", "InventoryReserved", 2000, "ev-9"
    )
    assert "cause-9" in order.causes
    assert book.counts()[S.RESERVED] == 1 and book.counts()[S.CREATED] == 0


def test_changes_for_unknown_orders_or_statuses_are_ignored() -> None:
    book = OrderBook()
    assert not book.changed(changed("ev-1", "CREATED", "RESERVED"), None)
    book.created(created())
    assert not book.changed(changed("ev-2", "CREATED", "TELEPORTED"), None)
    assert book.find("o1").status == S.CREATED  # type: ignore[union-attr]


def test_forget_drops_the_order_and_its_count() -> None:
    book = OrderBook()
    book.created(created())
    book.forget("o1")
    assert book.find("o1") is None and book.counts()[S.CREATED] == 0


def reply(correlation_id: str) -> Event:
    return Event(
        "inventory-replies",
        0,
        0,
        correlation_id,
        "StockCheckReplied",
        {"correlation_id": correlation_id, "available": True, "missing_skus": []},
    )


def test_reply_board_wakes_the_right_request_only() -> None:
    board = ReplyBoard()
    pending = board.expect("c1")
    assert not board.deliver(reply("someone-else"))
    assert board.deliver(reply("c1"))
    assert pending.wait(0) is not None and pending.wait(0).value["correlation_id"] == "c1"  # type: ignore[union-attr]
    assert len(board) == 0


def test_reply_board_drops_late_replies() -> None:
    board = ReplyBoard()
    pending = board.expect("c1")
    assert pending.wait(0) is None
    board.forget("c1")
    assert not board.deliver(reply("c1"))
