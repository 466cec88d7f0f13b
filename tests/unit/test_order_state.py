"""The order state machine: every legal transition, and every other (status, trigger) refused.

The expected table is written out here by hand, from DESIGN §3, rather than derived from
`RULES`: a wrong rule in the module must make these tests fail, not agree with itself.
"""

from __future__ import annotations

import itertools

import pytest

from kafkalab.catalogue.services import CUSTOMER_CANCELLED
from kafkalab.services.order.state import (
    CANCEL_REQUESTED,
    LEGAL_MOVES,
    TERMINAL,
    TRIGGERS,
    IllegalTransition,
    OrderStatus,
    Transition,
    check_move,
    decide,
    reachable,
)

S = OrderStatus

EXPECTED: dict[tuple[OrderStatus, str], list[tuple[OrderStatus, OrderStatus]]] = {
    (S.CREATED, "InventoryReserved"): [(S.CREATED, S.RESERVED)],
    (S.CREATED, "OutOfStock"): [(S.CREATED, S.REJECTED)],
    (S.RESERVED, "PaymentCompleted"): [(S.RESERVED, S.PAID)],
    (S.PAID, "StockCommitted"): [(S.PAID, S.CONFIRMED)],
    (S.RESERVED, "PaymentFailed"): [
        (S.RESERVED, S.PAYMENT_FAILED),
        (S.PAYMENT_FAILED, S.PENDING_PAYMENT),
    ],
    (S.RESERVED, "ReservationExpired"): [(S.RESERVED, S.CANCELLED)],
    (S.PENDING_PAYMENT, "ReservationExpired"): [(S.PENDING_PAYMENT, S.CANCELLED)],
    (S.PAID, "ReservationExpired"): [(S.PAID, S.CANCELLED)],
}

EXPECTED_EDGES = {
    (S.CREATED, S.RESERVED),
    (S.CREATED, S.REJECTED),
    (S.RESERVED, S.PAID),
    (S.PAID, S.CONFIRMED),
    (S.RESERVED, S.PAYMENT_FAILED),
    (S.PAYMENT_FAILED, S.PENDING_PAYMENT),
    (S.RESERVED, S.CANCELLED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.PAID, S.CANCELLED),
    (S.CONFIRMED, S.CANCELLED),  # the customer's cancel, the only edge out of CONFIRMED
}

ALL_PAIRS = list(itertools.product(OrderStatus, TRIGGERS))
ILLEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_the_triggers_are_the_six_inventory_and_payment_events() -> None:
    assert set(TRIGGERS) == {
        "InventoryReserved",
        "OutOfStock",
        "PaymentCompleted",
        "PaymentFailed",
        "StockCommitted",
        "ReservationExpired",
    }


@pytest.mark.parametrize(("status", "trigger"), list(EXPECTED), ids=lambda v: str(v))
def test_legal_trigger_moves_the_order(status: OrderStatus, trigger: str) -> None:
    decision = decide(status, trigger)
    assert decision.legal
    assert [(t.from_status, t.to_status) for t in decision.transitions] == EXPECTED[
        (status, trigger)
    ]
    assert decision.transitions[0].reason == trigger


@pytest.mark.parametrize(("status", "trigger"), ILLEGAL_PAIRS, ids=lambda v: str(v))
def test_every_other_trigger_is_refused(status: OrderStatus, trigger: str) -> None:
    decision = decide(status, trigger)
    assert not decision.legal
    assert decision.transitions == ()
    assert (decision.status, decision.trigger) == (status, trigger)


def test_the_illegal_table_is_not_empty_and_covers_the_terminal_states() -> None:
    assert len(ILLEGAL_PAIRS) == len(OrderStatus) * len(TRIGGERS) - len(EXPECTED)
    for status in (S.REJECTED, S.CONFIRMED, S.CANCELLED, S.PAYMENT_FAILED):
        assert all(not decide(status, trigger).legal for trigger in TRIGGERS)


def test_payment_failure_carries_its_reason_then_waits_for_a_retry() -> None:
    first, second = decide(S.RESERVED, "PaymentFailed", "insufficient_funds").transitions
    assert first == Transition(S.RESERVED, S.PAYMENT_FAILED, "insufficient_funds")
    assert second == Transition(S.PAYMENT_FAILED, S.PENDING_PAYMENT, "awaiting payment retry")


def test_an_unknown_trigger_is_refused() -> None:
    assert not decide(S.CREATED, "StockReleased").legal
    assert not decide(S.CREATED, "StockReleased").premature


def test_legal_moves_are_exactly_the_diagram_edges() -> None:
    assert LEGAL_MOVES == EXPECTED_EDGES


@pytest.mark.parametrize(
    ("from_status", "to_status"), list(itertools.product(OrderStatus, repeat=2)), ids=str
)
def test_check_move_accepts_only_diagram_edges(
    from_status: OrderStatus, to_status: OrderStatus
) -> None:
    if (from_status, to_status) in EXPECTED_EDGES:
        check_move(from_status, to_status)
    else:
        with pytest.raises(IllegalTransition):
            check_move(from_status, to_status)


def test_terminal_statuses() -> None:
    assert set(TERMINAL) == {S.REJECTED, S.CONFIRMED, S.CANCELLED}


def test_reachable() -> None:
    assert reachable(S.CREATED) == set(OrderStatus) - {S.CREATED}
    assert reachable(S.RESERVED) == {
        S.PAID,
        S.CONFIRMED,
        S.PAYMENT_FAILED,
        S.PENDING_PAYMENT,
        S.CANCELLED,
    }
    assert reachable(S.PAID) == {S.CONFIRMED, S.CANCELLED}
    assert reachable(S.CONFIRMED) == {S.CANCELLED}
    assert reachable(S.CANCELLED) == set()


def test_a_customer_cancels_a_confirmed_order_and_nothing_else() -> None:
    (step,) = decide(S.CONFIRMED, CANCEL_REQUESTED, CUSTOMER_CANCELLED).transitions
    assert step == Transition(S.CONFIRMED, S.CANCELLED, CUSTOMER_CANCELLED)
    for status in set(OrderStatus) - {S.CONFIRMED}:
        assert not decide(status, CANCEL_REQUESTED).legal
    # A PAID order is moments from CONFIRMED: its cancel waits for that, it is not refused.
    assert decide(S.PAID, CANCEL_REQUESTED).premature
    assert not decide(S.CANCELLED, CANCEL_REQUESTED).premature
    assert not decide(S.REJECTED, CANCEL_REQUESTED).premature


@pytest.mark.parametrize(
    ("status", "trigger", "premature"),
    [
        # Events that can legitimately overtake the one that makes them legal:
        (S.CREATED, "PaymentCompleted", True),
        (S.CREATED, "PaymentFailed", True),
        (S.CREATED, "StockCommitted", True),
        (S.CREATED, "ReservationExpired", True),
        (S.RESERVED, "StockCommitted", True),
        # Events that can never become legal for this order again:
        (S.RESERVED, "InventoryReserved", False),
        (S.RESERVED, "OutOfStock", False),
        (S.PAID, "PaymentCompleted", False),
        (S.PENDING_PAYMENT, "PaymentCompleted", False),
        (S.REJECTED, "InventoryReserved", False),
        (S.CONFIRMED, "StockCommitted", False),
        (S.CANCELLED, "ReservationExpired", False),
    ],
)
def test_premature_only_when_a_later_status_would_accept_it(
    status: OrderStatus, trigger: str, premature: bool
) -> None:
    decision = decide(status, trigger)
    assert not decision.legal
    assert decision.premature is premature
