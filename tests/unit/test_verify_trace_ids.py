"""`kafkalab trace` finds an order by its id or by the 8-character prefix traces print."""

from __future__ import annotations

import pytest

from kafkalab.events.serde import Event
from kafkalab.observe.trace import UnknownOrder, resolve_order_id

A = "3f2a9c1b-0000-4000-8000-000000000001"
B = "3f2a9c1b-0000-4000-8000-000000000002"
C = "7d0e4b2a-0000-4000-8000-000000000003"


def events(*order_ids: str) -> list[Event]:
    return [
        Event("order-events", 0, i, o, "OrderCreated", {"order_id": o})
        for i, o in enumerate(order_ids)
    ]


def test_an_exact_id_wins_even_when_it_is_a_prefix_of_another() -> None:
    assert resolve_order_id(events("7d0e", C), "7d0e") == "7d0e"


def test_a_unique_prefix_finds_the_order() -> None:
    assert resolve_order_id(events(A, C), "7d0e4b2a") == C


def test_an_ambiguous_prefix_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownOrder) as caught:
        resolve_order_id(events(A, B, C), "3f2a9c1b")
    assert caught.value.message.startswith("2 orders start with '3f2a9c1b'")
    assert caught.value.hint == "give more of the order id"


def test_an_unknown_order_says_where_to_look() -> None:
    with pytest.raises(UnknownOrder) as caught:
        resolve_order_id(events(A), "nope")
    assert caught.value.message == "no events for order nope on the topics"
    assert "kafkalab tail order-events" in caught.value.hint
    with pytest.raises(UnknownOrder):
        resolve_order_id(events(A), "")
