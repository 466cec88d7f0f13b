"""Lesson 14's check: the output topic holds exactly the filtered, mapped order stream.

The expected output is computed here, from the orders the demo sent, with plain Python — not
with the dataframe code the app ran — so a wrong filter or mapping in the app shows up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafkalab.verdict import Check, equal, expect


@dataclass
class Order:
    """One order as the demo produced it (keyed by user_id)."""

    order_id: str
    user_id: str
    total_cents: int
    items: list[str]  # SKUs
    country: str


@dataclass
class Out:
    """One record read back from the app's output topic."""

    key: str
    offset: int
    partition: int
    value: dict[str, Any]


@dataclass
class Seen:
    threshold_cents: int
    sent: list[Order]
    out: list[Out]


def expected(order: Order) -> dict[str, Any]:
    """The transformation the lesson asks for, written independently of the app."""
    return {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "total_eur": order.total_cents / 100,
        "items": len(order.items),
        "eu": order.country != "US",
    }


def check(seen: Seen) -> list[Check]:
    big = [o for o in seen.sent if o.total_cents >= seen.threshold_cents]
    want = {o.order_id: expected(o) for o in big}
    got: dict[str, dict[str, Any]] = {}
    duplicates = []
    for record in seen.out:
        order_id = str(record.value.get("order_id"))
        if order_id in got:
            duplicates.append(order_id)
        got[order_id] = record.value
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(i for i in set(want) & set(got) if got[i] != want[i])
    rekeyed = sorted(
        str(r.value.get("order_id")) for r in seen.out if r.key != r.value.get("user_id")
    )
    sent_order = {
        user: [o.order_id for o in big if o.user_id == user] for user in {o.user_id for o in big}
    }
    out_order: dict[str, list[str]] = {}
    for record in sorted(seen.out, key=lambda r: (r.partition, r.offset)):
        out_order.setdefault(record.key, []).append(str(record.value.get("order_id")))
    reordered = sorted(u for u, ids in out_order.items() if ids != sent_order.get(u, []))
    return [
        expect(
            "the filter let some orders through and held others back",
            0 < len(big) < len(seen.sent),
            f"{len(big)} of {len(seen.sent)} orders are ≥ {seen.threshold_cents / 100:.2f} EUR",
        ),
        equal("one output per big order", len(big), len(seen.out)),
        expect(
            "no small order passed, none missing",
            not missing and not extra and not duplicates,
            "output order ids = big order ids"
            if not missing and not extra and not duplicates
            else f"missing {missing[:5]}, unexpected {extra[:5]}, twice {duplicates[:5]}",
        ),
        expect(
            "each output is its order, mapped",
            not wrong and bool(got),
            f"{len(got)} records equal the expected mapping"
            if not wrong
            else f"differs for {wrong[:5]}: got {got[wrong[0]]}, want {want[wrong[0]]}",
        ),
        expect(
            "key kept (user_id)",
            not rekeyed,
            "every output keyed by its user" if not rekeyed else f"re-keyed: {rekeyed[:5]}",
        ),
        expect(
            "order kept per key",
            not reordered,
            "each user's orders come out in the order they went in"
            if not reordered
            else f"out of order for {reordered[:5]}",
        ),
    ]
