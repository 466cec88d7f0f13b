"""The replica's view of every order: what GET /orders/{id} answers and what the state machine
reads the current status from.

It is a projection of `order-events` and nothing else: rebuilt at start by reading the topic
from the beginning, then kept current by the same feed (orders created or moved by other
replicas arrive that way). Transitions this replica decides are recorded at once as well, and
recognised by event_id when the feed brings them back, so each lands exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from kafkalab.services.order.state import OrderStatus, Transition


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an order's history: its creation or one OrderStatusChanged."""

    from_status: str | None
    to_status: str
    reason: str | None
    at: int  # epoch milliseconds
    event_id: str


@dataclass
class Order:
    order_id: str
    user_id: str
    items: list[dict[str, Any]]
    total_cents: int
    card_masked: str
    created_at: int
    status: OrderStatus = OrderStatus.CREATED
    history: list[HistoryEntry] = field(default_factory=list)
    causes: set[str] = field(default_factory=set)
    """event_ids of the inventory/payment events already applied: a redelivered one is a no-op."""

    def snapshot(self) -> dict[str, Any]:
        """The JSON body of GET /orders/{order_id}."""
        return {
            "order_id": self.order_id,
            "user_id": self.user_id,
            "status": str(self.status),
            "items": [dict(item) for item in self.items],
            "total_cents": self.total_cents,
            "card_masked": self.card_masked,
            "created_at": self.created_at,
            "history": [asdict(entry) for entry in self.history],
        }


class OrderBook:
    """Orders by id. `lock` is re-entrant: the service holds it across decide → emit → record
    so that the feed cannot interleave a change for the same order."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._events: set[str] = set()
        self._by_status: Counter[OrderStatus] = Counter()

    def __len__(self) -> int:
        with self.lock:
            return len(self._orders)

    def find(self, order_id: str) -> Order | None:
        """The live Order (hold `lock` while using it) or None."""
        with self.lock:
            return self._orders.get(order_id)

    def snapshot(self, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            order = self._orders.get(order_id)
            return order.snapshot() if order else None

    def counts(self) -> dict[OrderStatus, int]:
        """How many orders are in each status (for the kafkalab_orders gauge)."""
        with self.lock:
            return {status: self._by_status[status] for status in OrderStatus}

    def created(self, value: dict[str, Any]) -> bool:
        """Apply an OrderCreated value; False when this order is already known."""
        with self.lock:
            if value["order_id"] in self._orders:
                return False
            order = Order(
                order_id=value["order_id"],
                user_id=value["user_id"],
                items=list(value["items"]),
                total_cents=int(value["total_cents"]),
                card_masked=value["card_masked"],
                created_at=int(value["occurred_at"]),
            )
            order.history.append(
                HistoryEntry(
                    None,
                    OrderStatus.CREATED,
                    "OrderCreated",
                    order.created_at,
                    str(value["event_id"]),
                )
            )
            self._orders[order.order_id] = order
            self._events.add(str(value["event_id"]))
            self._by_status[order.status] += 1
            return True

    def changed(self, value: dict[str, Any], cause: str | None) -> bool:
        """Apply an OrderStatusChanged read from the topic; False when it was applied already
        (our own, recorded when we emitted it) or names an order or status we do not know."""
        with self.lock:
            event_id = str(value["event_id"])
            order = self._orders.get(value["order_id"])
            if event_id in self._events or order is None:
                return False
            try:
                from_status = OrderStatus(value["from_status"])
                to_status = OrderStatus(value["to_status"])
            except ValueError:
                return False
            self._move(
                order,
                Transition(from_status, to_status, value.get("reason") or ""),
                event_id,
                int(value["occurred_at"]),
                cause,
            )
            return True

    def record(
        self, order: Order, transition: Transition, event_id: str, at: int, cause: str
    ) -> None:
        """Apply a transition this replica decided and just emitted as `event_id`."""
        with self.lock:
            self._move(order, transition, event_id, at, cause)

    def forget(self, order_id: str) -> None:
        """Drop an order whose OrderCreated could not be published."""
        with self.lock:
            order = self._orders.pop(order_id, None)
            if order is not None:
                self._by_status[order.status] -= 1

    def _move(
        self, order: Order, transition: Transition, event_id: str, at: int, cause: str | None
    ) -> None:
        self._by_status[order.status] -= 1
        order.status = transition.to_status
        self._by_status[order.status] += 1
        order.history.append(
            HistoryEntry(
                transition.from_status,
                transition.to_status,
                transition.reason or None,
                at,
                event_id,
            )
        )
        self._events.add(event_id)
        if cause:
            order.causes.add(cause)
