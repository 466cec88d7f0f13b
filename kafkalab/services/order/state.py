"""The order state machine: which event moves an order from which status to which.

Pure: no Kafka, no clock, no I/O — the service asks `decide(status, trigger)` and emits one
OrderStatusChanged per step of the answer. Every legal move is in `RULES`; anything else is
illegal and must be refused (logged, counted, never applied):

    CREATED         --InventoryReserved-->   RESERVED
    CREATED         --OutOfStock--------->   REJECTED
    RESERVED        --PaymentCompleted--->   PAID
    PAID            --StockCommitted----->   CONFIRMED
    RESERVED        --PaymentFailed------>   PAYMENT_FAILED --(at once)--> PENDING_PAYMENT
    RESERVED        --ReservationExpired->   CANCELLED
    PENDING_PAYMENT --ReservationExpired->   CANCELLED
    PAID            --ReservationExpired->   CANCELLED   (paid after the stock went back)
    CONFIRMED       --CancelRequested---->   CANCELLED   (the customer, POST /orders/{id}/cancel)

An illegal trigger can still be *premature*: PaymentCompleted for an order that is CREATED is
legal once InventoryReserved has been applied. Inventory and payment write to different
topics, so their events can reach the order service in either order; a premature event is
worth retrying for a moment before it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"
    PAID = "PAID"
    CONFIRMED = "CONFIRMED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CANCELLED = "CANCELLED"


S = OrderStatus

TRIGGERS: tuple[str, ...] = (
    "InventoryReserved",
    "OutOfStock",
    "PaymentCompleted",
    "PaymentFailed",
    "StockCommitted",
    "ReservationExpired",
)
"""The event types that move an order; every other event type leaves orders alone."""

CANCEL_REQUESTED = "CancelRequested"
"""The customer's own trigger: POST /orders/{id}/cancel, not an event on a topic. Only a
CONFIRMED order takes it (paid, its stock sold); inventory then puts the stock back and a
refund service owes the payment back."""

RULES: dict[tuple[OrderStatus, str], tuple[OrderStatus, ...]] = {
    (S.CREATED, "InventoryReserved"): (S.RESERVED,),
    (S.CREATED, "OutOfStock"): (S.REJECTED,),
    (S.RESERVED, "PaymentCompleted"): (S.PAID,),
    (S.PAID, "StockCommitted"): (S.CONFIRMED,),
    (S.RESERVED, "PaymentFailed"): (S.PAYMENT_FAILED, S.PENDING_PAYMENT),
    (S.RESERVED, "ReservationExpired"): (S.CANCELLED,),
    (S.PENDING_PAYMENT, "ReservationExpired"): (S.CANCELLED,),
    # Payment and inventory decide independently: a payment that completes as the TTL runs
    # out can reach us before inventory (still behind on `payments`) expires the reservation.
    # Inventory then releases the stock and never commits it (it logs the late payment), so
    # the order cannot be CONFIRMED; left in PAID it would never end. Cancelled, as inventory
    # says; the refund is out of scope here as it is there.
    (S.PAID, "ReservationExpired"): (S.CANCELLED,),
    # A customer may cancel once the order is CONFIRMED, and only then: no event of the shop
    # moves a CONFIRMED order any more, so the cancel races with nothing (a PAID order is
    # moments from CONFIRMED, and its stock commit could cross the cancel).
    (S.CONFIRMED, CANCEL_REQUESTED): (S.CANCELLED,),
}
"""(status, trigger) → the statuses the order passes through, in order."""


def _edges(triggers: tuple[str, ...] | None = None) -> frozenset[tuple[OrderStatus, OrderStatus]]:
    return frozenset(
        (steps[i - 1] if i else status, step)
        for (status, trigger), steps in RULES.items()
        if triggers is None or trigger in triggers
        for i, step in enumerate(steps)
    )


LEGAL_MOVES: frozenset[tuple[OrderStatus, OrderStatus]] = _edges()
"""Every legal (from, to) pair: the edges of the state diagram."""

TERMINAL: frozenset[OrderStatus] = frozenset(
    status for status in OrderStatus if not any(src == status for src, _ in _edges(TRIGGERS))
)
"""Statuses no event of the shop moves an order out of: REJECTED, CONFIRMED, CANCELLED. (Only
the customer's CancelRequested still moves a CONFIRMED order, to CANCELLED, once.)"""


@dataclass(frozen=True)
class Transition:
    """One step: what the service publishes as an OrderStatusChanged."""

    from_status: OrderStatus
    to_status: OrderStatus
    reason: str


@dataclass(frozen=True)
class Decision:
    """The answer for one trigger: the steps to apply, or why there are none."""

    status: OrderStatus
    trigger: str
    transitions: tuple[Transition, ...] = ()
    premature: bool = False

    @property
    def legal(self) -> bool:
        return bool(self.transitions)


class IllegalTransition(Exception):
    """A (from, to) move that is not an edge of the state diagram."""


def decide(status: OrderStatus, trigger: str, reason: str | None = None) -> Decision:
    """What `trigger` does to an order in `status`. `reason` (e.g. PaymentFailed's
    "insufficient_funds") goes on the first step; the default is the trigger's name."""
    steps = RULES.get((status, trigger))
    if steps is None:
        return Decision(status, trigger, premature=_premature(status, trigger))
    transitions = []
    current = status
    for i, step in enumerate(steps):
        why = (reason or trigger) if i == 0 else _FOLLOW_UP_REASONS.get(step, trigger)
        transitions.append(Transition(current, step, why))
        current = step
    return Decision(status, trigger, tuple(transitions))


def check_move(from_status: OrderStatus, to_status: OrderStatus) -> None:
    """Raise IllegalTransition unless from → to is an edge of the diagram."""
    if (from_status, to_status) not in LEGAL_MOVES:
        raise IllegalTransition(f"{from_status} → {to_status} is not a legal order transition")


def reachable(status: OrderStatus) -> frozenset[OrderStatus]:
    """Every status an order in `status` can still get to (itself excluded)."""
    seen: set[OrderStatus] = set()
    frontier = [status]
    while frontier:
        current = frontier.pop()
        for src, dst in LEGAL_MOVES:
            if src == current and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    seen.discard(status)
    return frozenset(seen)


def _premature(status: OrderStatus, trigger: str) -> bool:
    later = reachable(status)
    return any(src in later for src, trig in RULES if trig == trigger)


_FOLLOW_UP_REASONS = {S.PENDING_PAYMENT: "awaiting payment retry"}
