"""Stock levels and reservations: the pure bookkeeping behind the inventory service.

No Kafka here. The service feeds events in and turns the results into events out; this module
decides. Three promises it keeps, each unit-tested:

- all or nothing: an order is reserved completely or not at all (OutOfStock names every SKU
  that is short or unknown);
- idempotent by order id: a second `reserve` for an order already seen changes nothing and
  says `Duplicate`, whatever happened to that order since;
- conservation: every unit reserved for an order is later either committed (sold) or released
  (back on the shelf), never both and never twice — reserved = committed + released; and a
  sale the customer cancels goes back on the shelf once (returned), never more than was sold.

Values are immutable (frozen dataclasses held in plain dicts), so `snapshot()` is a handful of
shallow dict copies: the service takes one before every Kafka transaction and restores it if
the transaction aborts, so memory never runs ahead of what the topics say happened.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kafkalab.services.products import Product


class Status(StrEnum):
    """Where an order stands with inventory. Only RESERVED and EXPIRED hold stock."""

    RESERVED = "reserved"
    EXPIRED = "expired"  # TTL ran out; the stock goes back with the release that follows
    COMMITTED = "committed"  # paid: the reserved units are sold
    RELEASED = "released"  # the reserved units are back on the shelf
    REJECTED = "rejected"  # OutOfStock: nothing was ever held
    RETURNED = "returned"  # committed, then the customer cancelled: the units are back


@dataclass(frozen=True)
class Line:
    """One order line as it travels in events (OrderItem)."""

    sku: str
    quantity: int
    unit_price_cents: int = 0

    @classmethod
    def from_value(cls, item: Mapping[str, Any]) -> Line:
        return cls(str(item["sku"]), int(item["quantity"]), int(item.get("unit_price_cents", 0)))

    def to_value(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
        }


@dataclass(frozen=True)
class Level:
    """Units of one SKU: `available` can be reserved, `reserved` is held for unpaid orders."""

    available: int
    reserved: int = 0


@dataclass(frozen=True)
class Reservation:
    """Stock held for one order, with what InventoryReserved must carry."""

    order_id: str
    user_id: str
    lines: tuple[Line, ...]
    expires_at_ms: int
    status: Status = Status.RESERVED
    total_cents: int = 0
    card_masked: str = ""
    trace_id: str = ""  # the order's trace, so events emitted later (expiry) join it
    card_sealed: str = ""  # passed on to payment unopened (inventory has no key for it)

    def quantities(self) -> dict[str, int]:
        """Units per SKU (an order may name a SKU on two lines)."""
        return _quantities(self.lines)


@dataclass(frozen=True)
class Reserved:
    reservation: Reservation


@dataclass(frozen=True)
class Refused:
    missing_skus: tuple[str, ...]


@dataclass(frozen=True)
class Duplicate:
    """The order was seen before; `status` is where it stands now. Nothing changed."""

    status: Status


ReserveResult = Reserved | Refused | Duplicate


class InvalidOrder(ValueError):
    """An order no stock decision can be made on (no lines, a non-positive quantity)."""


@dataclass(frozen=True)
class Snapshot:
    levels: dict[str, Level]
    orders: dict[str, Reservation]
    rejected: frozenset[str]
    due: list[tuple[int, str]]


class Stock:
    """Levels per SKU plus every order's reservation. Single-threaded: the service's loop owns it."""

    def __init__(self, levels: Mapping[str, Level]) -> None:
        self._levels: dict[str, Level] = dict(levels)
        self._orders: dict[str, Reservation] = {}
        self._rejected: set[str] = set()
        # (expires_at_ms, order_id) of RESERVED orders; stale entries are skipped lazily.
        self._due: list[tuple[int, str]] = []

    @classmethod
    def seeded(cls, products: Mapping[str, Product]) -> Stock:
        """Every product at its initial stock, nothing reserved."""
        return cls({sku: Level(p.initial_stock) for sku, p in products.items()})

    # -- reading -----------------------------------------------------------------------------

    def levels(self) -> dict[str, Level]:
        return dict(self._levels)

    def level(self, sku: str) -> Level | None:
        return self._levels.get(sku)

    def reservation(self, order_id: str) -> Reservation | None:
        return self._orders.get(order_id)

    def status(self, order_id: str) -> Status | None:
        if order_id in self._rejected:
            return Status.REJECTED
        found = self._orders.get(order_id)
        return found.status if found else None

    def active(self) -> int:
        """Reservations still holding stock."""
        return sum(1 for r in self._orders.values() if r.status in _HOLDING)

    def missing(self, lines: Iterable[Line]) -> list[str]:
        """SKUs (sorted) that are unknown or short for `lines`; empty means all available."""
        wanted = _quantities(lines)
        return sorted(
            sku
            for sku, qty in wanted.items()
            if sku not in self._levels or self._levels[sku].available < qty
        )

    # -- decisions ---------------------------------------------------------------------------

    def reserve(
        self,
        order_id: str,
        user_id: str,
        lines: Iterable[Line],
        expires_at_ms: int,
        total_cents: int = 0,
        card_masked: str = "",
        trace_id: str = "",
        card_sealed: str = "",
    ) -> ReserveResult:
        """Hold every line of the order, or nothing. Idempotent by `order_id`."""
        lines = tuple(lines)
        seen = self.status(order_id)
        if seen is not None:
            return Duplicate(seen)
        _validate(lines)
        missing = self.missing(lines)
        if missing:
            self._rejected.add(order_id)
            return Refused(tuple(missing))
        reservation = Reservation(
            order_id,
            user_id,
            lines,
            expires_at_ms,
            Status.RESERVED,
            total_cents,
            card_masked,
            trace_id,
            card_sealed,
        )
        self._hold(reservation)
        return Reserved(reservation)

    def commit(self, order_id: str) -> Reservation | None:
        """Paid: the held units become a sale. None when the order holds nothing (unknown,
        already committed, or expired — a payment after expiry is too late to take the stock)."""
        found = self._orders.get(order_id)
        if found is None or found.status is not Status.RESERVED:
            return None
        for sku, qty in found.quantities().items():
            self._shift(sku, reserved=-qty)
        done = replace(found, status=Status.COMMITTED)
        self._orders[order_id] = done
        return done

    def restock(self, sku: str, quantity: int) -> Level:
        """A delivery: `quantity` more units of `sku` on the shelf (reservations untouched, so
        conservation still holds). KeyError for a SKU we do not sell."""
        if quantity <= 0:
            raise ValueError(f"a restock adds at least one unit (got {quantity})")
        level = self._levels[sku]
        self._levels[sku] = Level(level.available + quantity, level.reserved)
        return self._levels[sku]

    def has_due(self, now_ms: int) -> bool:
        """Whether `expire_due(now_ms)` would expire anything (cheap: the loop asks every tick)."""
        while self._due:
            expires_at_ms, order_id = self._due[0]
            found = self._orders.get(order_id)
            if found is not None and found.status is Status.RESERVED:
                return expires_at_ms <= now_ms
            heapq.heappop(self._due)  # paid or gone: nothing left to expire
        return False

    def expire_due(self, now_ms: int) -> list[Reservation]:
        """Mark RESERVED orders whose `expires_at_ms` is at or before `now_ms` as EXPIRED (they
        still hold their stock until `release`). Paid orders are never expired."""
        expired = []
        while self._due and self._due[0][0] <= now_ms:
            _, order_id = heapq.heappop(self._due)
            found = self._orders.get(order_id)
            if found is None or found.status is not Status.RESERVED:
                continue
            gone = replace(found, status=Status.EXPIRED)
            self._orders[order_id] = gone
            expired.append(gone)
        return expired

    def awaiting_release(self) -> list[Reservation]:
        """EXPIRED orders whose stock has not gone back yet (after a rebuild, normally none)."""
        return [r for r in self._orders.values() if r.status is Status.EXPIRED]

    def release(self, order_id: str) -> Reservation | None:
        """Put an EXPIRED order's units back on the shelf; None if it holds nothing to release."""
        found = self._orders.get(order_id)
        if found is None or found.status is not Status.EXPIRED:
            return None
        for sku, qty in found.quantities().items():
            self._shift(sku, available=qty, reserved=-qty)
        done = replace(found, status=Status.RELEASED)
        self._orders[order_id] = done
        return done

    def give_back(self, order_id: str) -> Reservation | None:
        """The customer cancelled a paid order: its sold units go back on the shelf, once.
        None when the order sold nothing (unknown, never paid, or already given back)."""
        found = self._orders.get(order_id)
        if found is None or found.status is not Status.COMMITTED:
            return None
        for sku, qty in found.quantities().items():
            self._shift(sku, available=qty)
        done = replace(found, status=Status.RETURNED)
        self._orders[order_id] = done
        return done

    # -- rebuilding from the topics -----------------------------------------------------------

    def replay(self, event_type: str, value: Mapping[str, Any], trace_id: str = "") -> None:
        """Apply one of inventory's own past events (from inventory-events) as it happened.

        Unlike `reserve`, a replayed reservation is applied even if levels look short: it did
        happen, and levels are corrected from the `stock` table afterwards anyway.
        """
        order_id = str(value.get("order_id", ""))
        if event_type == "InventoryReserved" and self.status(order_id) is None:
            reservation = Reservation(
                order_id,
                str(value["user_id"]),
                tuple(Line.from_value(i) for i in value["items"]),
                int(value["expires_at"]),
                Status.RESERVED,
                int(value.get("total_cents", 0)),
                str(value.get("card_masked", "")),
                trace_id,
                str(value.get("card_number", "")),
            )
            self._hold(reservation)
        elif event_type == "OutOfStock" and self.status(order_id) is None:
            self._rejected.add(order_id)
        elif event_type == "StockCommitted":
            self.commit(order_id)
        elif event_type == "ReservationExpired":
            found = self._orders.get(order_id)
            if found is not None and found.status is Status.RESERVED:
                self._orders[order_id] = replace(found, status=Status.EXPIRED)
        elif event_type == "StockReleased":
            self.release(order_id)
        elif event_type == "StockReturned":
            self.give_back(order_id)

    def overwrite_levels(self, table: Mapping[str, Level]) -> None:
        """Take the `stock` table's word for the levels of the SKUs we sell."""
        for sku, level in table.items():
            if sku in self._levels:
                self._levels[sku] = level

    # -- transactions --------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(
            dict(self._levels), dict(self._orders), frozenset(self._rejected), list(self._due)
        )

    def restore(self, snapshot: Snapshot) -> None:
        self._levels = dict(snapshot.levels)
        self._orders = dict(snapshot.orders)
        self._rejected = set(snapshot.rejected)
        self._due = list(snapshot.due)

    # -- internals -------------------------------------------------------------------------------

    def _hold(self, reservation: Reservation) -> None:
        for sku, qty in reservation.quantities().items():
            self._shift(sku, available=-qty, reserved=qty)
        self._orders[reservation.order_id] = reservation
        heapq.heappush(self._due, (reservation.expires_at_ms, reservation.order_id))

    def _shift(self, sku: str, available: int = 0, reserved: int = 0) -> None:
        # SKUs we do not sell (a replayed order naming a SKU since dropped) have no level.
        level = self._levels.get(sku)
        if level is not None:
            self._levels[sku] = Level(level.available + available, level.reserved + reserved)


_HOLDING = (Status.RESERVED, Status.EXPIRED)


def _quantities(lines: Iterable[Line]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        out[line.sku] = out.get(line.sku, 0) + line.quantity
    return out


def _validate(lines: tuple[Line, ...]) -> None:
    if not lines:
        raise InvalidOrder("an order without lines cannot be reserved")
    for line in lines:
        if line.quantity <= 0:
            raise InvalidOrder(f"quantity of {line.sku} must be positive (got {line.quantity})")
