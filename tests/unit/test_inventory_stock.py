"""Inventory's pure bookkeeping: all-or-nothing reservations, idempotency, expiry, conservation."""

from __future__ import annotations

import random

import pytest

from kafkalab.services.inventory.stock import (
    Duplicate,
    InvalidOrder,
    Level,
    Line,
    Refused,
    Reserved,
    Status,
    Stock,
)
from kafkalab.services.products import PRODUCTS, Product

NOW = 1_000_000


def shop(**units: int) -> Stock:
    return Stock({sku: Level(n) for sku, n in units.items()})


def reserve(stock: Stock, order_id: str, *lines: tuple[str, int], expires: int = NOW + 10_000):
    return stock.reserve(order_id, "u1", [Line(sku, qty, 100) for sku, qty in lines], expires)


def test_seeded_from_the_product_catalogue() -> None:
    stock = Stock.seeded(PRODUCTS)
    assert stock.levels() == {sku: Level(p.initial_stock, 0) for sku, p in PRODUCTS.items()}


def test_a_reservation_holds_every_line() -> None:
    stock = shop(A=5, B=2)
    result = reserve(stock, "o1", ("A", 3), ("B", 2))
    assert isinstance(result, Reserved)
    assert result.reservation.status is Status.RESERVED
    assert stock.levels() == {"A": Level(2, 3), "B": Level(0, 2)}
    assert stock.active() == 1


def test_all_or_nothing_when_one_line_is_short() -> None:
    stock = shop(A=5, B=1)
    result = reserve(stock, "o1", ("A", 3), ("B", 2), ("C", 1))
    assert result == Refused(("B", "C"))  # short and unknown SKUs, sorted
    assert stock.levels() == {"A": Level(5, 0), "B": Level(1, 0)}
    assert stock.status("o1") is Status.REJECTED
    assert stock.active() == 0


def test_two_lines_of_one_sku_count_together() -> None:
    stock = shop(A=3)
    assert isinstance(reserve(stock, "o1", ("A", 2), ("A", 2)), Refused)
    assert isinstance(reserve(stock, "o2", ("A", 2), ("A", 1)), Reserved)
    assert stock.level("A") == Level(0, 3)


def test_a_redelivered_order_does_not_reserve_twice() -> None:
    stock = shop(A=5)
    reserve(stock, "o1", ("A", 2))
    assert reserve(stock, "o1", ("A", 2)) == Duplicate(Status.RESERVED)
    assert stock.level("A") == Level(3, 2)
    refused = shop(A=1)
    reserve(refused, "o2", ("A", 2))
    assert reserve(refused, "o2", ("A", 1)) == Duplicate(Status.REJECTED)  # stays refused
    assert refused.level("A") == Level(1, 0)


def test_invalid_orders_are_refused_loudly() -> None:
    stock = shop(A=5)
    with pytest.raises(InvalidOrder):
        reserve(stock, "o1")
    with pytest.raises(InvalidOrder):
        reserve(stock, "o2", ("A", 0))
    assert stock.level("A") == Level(5, 0)


def test_a_stock_check_reserves_nothing() -> None:
    stock = shop(A=2)
    assert stock.missing([Line("A", 2)]) == []
    assert stock.missing([Line("A", 3), Line("Z", 1)]) == ["A", "Z"]
    assert stock.level("A") == Level(2, 0)


def test_payment_turns_the_reservation_into_a_sale_once() -> None:
    stock = shop(A=5)
    reserve(stock, "o1", ("A", 2))
    committed = stock.commit("o1")
    assert committed is not None and committed.status is Status.COMMITTED
    assert stock.level("A") == Level(3, 0)
    assert stock.commit("o1") is None  # a redelivered PaymentCompleted changes nothing
    assert stock.commit("unknown") is None
    assert stock.level("A") == Level(3, 0)


def test_expiry_then_release_gives_the_stock_back() -> None:
    stock = shop(A=5)
    reserve(stock, "o1", ("A", 2), expires=NOW)
    reserve(stock, "o2", ("A", 1), expires=NOW + 5)
    assert not stock.has_due(NOW - 1)
    assert stock.has_due(NOW)
    [expired] = stock.expire_due(NOW)
    assert expired.order_id == "o1" and expired.status is Status.EXPIRED
    assert stock.level("A") == Level(2, 3)  # still held until released
    released = stock.release("o1")
    assert released is not None and released.status is Status.RELEASED
    assert stock.level("A") == Level(4, 1)
    assert stock.release("o1") is None  # once
    assert stock.expire_due(NOW) == []


def test_paid_reservations_never_expire_and_late_payments_take_nothing() -> None:
    stock = shop(A=5)
    reserve(stock, "paid", ("A", 1), expires=NOW)
    reserve(stock, "late", ("A", 1), expires=NOW)
    stock.commit("paid")
    assert not stock.has_due(NOW - 1)
    assert [r.order_id for r in stock.expire_due(NOW)] == ["late"]
    stock.release("late")
    assert stock.commit("late") is None
    assert stock.status("late") is Status.RELEASED
    assert stock.level("A") == Level(4, 0)


def test_a_cancelled_sale_goes_back_on_the_shelf_once() -> None:
    stock = shop(A=5)
    reserve(stock, "sold", ("A", 2))
    reserve(stock, "held", ("A", 1))
    assert stock.give_back("held") is None  # never sold: nothing to give back
    stock.commit("sold")
    assert stock.level("A") == Level(2, 1)
    back = stock.give_back("sold")
    assert back is not None and back.status is Status.RETURNED
    assert stock.level("A") == Level(4, 1)
    assert stock.give_back("sold") is None  # a redelivered cancel changes nothing
    assert stock.level("A") == Level(4, 1)


def test_a_return_is_replayed_like_the_rest() -> None:
    stock = shop(A=5)
    value = {"order_id": "o1", "user_id": "u1", "items": [{"sku": "A", "quantity": 2}]}
    stock.replay("InventoryReserved", {**value, "expires_at": NOW})
    stock.replay("StockCommitted", value)
    stock.replay("StockReturned", value)
    stock.replay("StockReturned", value)
    assert stock.status("o1") is Status.RETURNED
    assert stock.level("A") == Level(5, 0)


def test_snapshot_and_restore_forget_an_aborted_batch() -> None:
    stock = shop(A=5)
    reserve(stock, "o1", ("A", 1), expires=NOW)
    saved = stock.snapshot()
    reserve(stock, "o2", ("A", 3))
    stock.commit("o1")
    stock.restore(saved)
    assert stock.level("A") == Level(4, 1)
    assert stock.status("o2") is None and stock.status("o1") is Status.RESERVED
    assert [r.order_id for r in stock.expire_due(NOW)] == ["o1"]
    assert isinstance(reserve(stock, "o2", ("A", 3)), Reserved)  # the order can be redone


def test_reserved_equals_committed_plus_released_for_every_order() -> None:
    """Random interleavings of orders, payments and expiries, with redeliveries: per order,
    every unit reserved ends up committed or released exactly once, and no unit is invented."""
    rng = random.Random(7)
    skus = {"A": 400, "B": 150, "C": 4}
    stock = shop(**skus)
    reserved: dict[str, dict[str, int]] = {}
    committed: dict[str, dict[str, int]] = {}
    released: dict[str, dict[str, int]] = {}
    clock = NOW
    for _ in range(3000):
        clock += rng.randrange(0, 40)
        action = rng.random()
        order_id = f"o{rng.randrange(0, 1500)}"  # reused ids stand for redeliveries
        if action < 0.5:
            lines = [(rng.choice("ABCD"), rng.randrange(1, 4)) for _ in range(rng.randrange(1, 3))]
            result = reserve(stock, order_id, *lines, expires=clock + rng.randrange(0, 1500))
            if isinstance(result, Reserved):
                assert order_id not in reserved
                reserved[order_id] = result.reservation.quantities()
        elif action < 0.6:
            holding = [o for o in reserved if stock.status(o) is Status.RESERVED]
            if holding and rng.random() < 0.8:  # mostly pay an order that holds stock
                order_id = rng.choice(holding)
            done = stock.commit(order_id)
            if done is not None:
                assert order_id not in committed and order_id not in released
                committed[order_id] = done.quantities()
        else:
            for gone in stock.expire_due(clock):
                back = stock.release(gone.order_id)
                assert back is not None and gone.order_id not in committed
                assert gone.order_id not in released
                released[gone.order_id] = back.quantities()
        levels = stock.levels()
        assert all(level.available >= 0 and level.reserved >= 0 for level in levels.values())
    for gone in stock.expire_due(clock + 10_000):
        back = stock.release(gone.order_id)
        assert back is not None
        released[gone.order_id] = back.quantities()
    assert set(reserved) == set(committed) | set(released)
    assert not set(committed) & set(released)
    for order_id, quantities in reserved.items():
        assert quantities == committed.get(order_id, released.get(order_id))
    sold = {sku: sum(q.get(sku, 0) for q in committed.values()) for sku in skus}
    assert stock.levels() == {sku: Level(n - sold[sku], 0) for sku, n in skus.items()}
    assert stock.active() == 0


def test_replay_rebuilds_reservations_and_levels_from_past_events() -> None:
    catalogue = {"A": Product("A", "a", 100, 10), "B": Product("B", "b", 100, 5)}
    items = [{"sku": "A", "quantity": 2, "unit_price_cents": 100}]
    past = [
        (
            "InventoryReserved",
            {"order_id": "o1", "user_id": "u", "items": items, "expires_at": NOW},
        ),
        (
            "InventoryReserved",
            {"order_id": "o2", "user_id": "u", "items": items, "expires_at": NOW},
        ),
        (
            "InventoryReserved",
            {"order_id": "o3", "user_id": "u", "items": items, "expires_at": NOW},
        ),
        ("OutOfStock", {"order_id": "o4", "user_id": "u", "missing_skus": ["B"]}),
        ("StockCommitted", {"order_id": "o1", "user_id": "u", "items": items}),
        ("ReservationExpired", {"order_id": "o2", "user_id": "u"}),
        ("StockReleased", {"order_id": "o2", "user_id": "u", "items": items, "reason": "expired"}),
        ("ReservationExpired", {"order_id": "o3", "user_id": "u"}),  # crash before its release
        (
            "InventoryReserved",
            {"order_id": "o1", "user_id": "u", "items": items, "expires_at": NOW},
        ),
    ]
    stock = Stock.seeded(catalogue)
    for event_type, value in past:
        stock.replay(event_type, value, trace_id="t")
    assert stock.status("o1") is Status.COMMITTED
    assert stock.status("o2") is Status.RELEASED
    assert stock.status("o4") is Status.REJECTED
    assert [r.order_id for r in stock.awaiting_release()] == ["o3"]
    assert stock.level("A") == Level(6, 2)  # 10 − 2 sold − 2 still held by o3
    stock.release("o3")
    assert stock.level("A") == Level(8, 0)
    assert reserve(stock, "o1", ("A", 1)) == Duplicate(Status.COMMITTED)

    stock.overwrite_levels({"A": Level(7, 1), "ZZ": Level(1, 0)})  # the table wins, known SKUs only
    assert stock.levels() == {"A": Level(7, 1), "B": Level(5, 0)}


def test_a_restock_adds_units_and_leaves_reservations_alone() -> None:
    stock = shop(A=1)
    assert isinstance(reserve(stock, "o1", ("A", 1)), Reserved)
    assert isinstance(reserve(stock, "o2", ("A", 1)), Refused)
    assert stock.restock("A", 5) == Level(5, 1)
    assert isinstance(reserve(stock, "o3", ("A", 1)), Reserved)
    assert stock.level("A") == Level(4, 2)
    with pytest.raises(KeyError):
        stock.restock("NOPE", 1)
    with pytest.raises(ValueError):
        stock.restock("A", 0)
