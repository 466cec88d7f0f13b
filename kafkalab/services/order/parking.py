"""Early events held back until their order is ready for them.

Inventory and payment write to different topics, and Kafka orders records only within one
partition of one topic: the order service can read PaymentCompleted before the InventoryReserved
that must come first (a lagging consumer makes it likely). Such a *premature* event is parked
here, under its order, and tried again each time the order moves; one still parked after its
deadline is refused as illegal.

The lot also tells the commit which offsets it must not go past (`lowest_offsets`): a parked
event has been handed to the service but not dealt with, so after a crash it must be read
again. Used on the service's loop thread only (not thread-safe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kafkalab.events.serde import Event


@dataclass(frozen=True)
class Parked:
    order_id: str
    event: Event
    until: float  # time.monotonic() deadline


class ParkingLot:
    def __init__(self) -> None:
        self._by_order: dict[str, list[Parked]] = {}

    def __len__(self) -> int:
        return sum(len(waiting) for waiting in self._by_order.values())

    def park(self, parked: Parked) -> None:
        """Hold an event for its order (arrival order kept; the same event is held once)."""
        waiting = self._by_order.setdefault(parked.order_id, [])
        if all(p.event.event_id != parked.event.event_id for p in waiting):
            waiting.append(parked)

    def take(self, order_id: str) -> list[Parked]:
        """Everything parked for `order_id`, removed from the lot, oldest first."""
        return self._by_order.pop(order_id, [])

    def expired(self, now: float) -> list[Parked]:
        """Remove and return every event whose deadline has passed."""
        return self._remove(lambda p: p.until <= now)

    def drop_unassigned(self, assigned: set[tuple[str, int]]) -> list[Parked]:
        """Remove events of partitions this replica no longer owns: the new owner reads them
        again from the (held-back) committed offset."""
        return self._remove(lambda p: (p.event.topic, p.event.partition) not in assigned)

    def lowest_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) → the smallest parked offset: the commit must stay at or below."""
        lowest: dict[tuple[str, int], int] = {}
        for waiting in self._by_order.values():
            for parked in waiting:
                key = (parked.event.topic, parked.event.partition)
                lowest[key] = min(lowest.get(key, parked.event.offset), parked.event.offset)
        return lowest

    def _remove(self, condition: Callable[[Parked], bool]) -> list[Parked]:
        removed: list[Parked] = []
        for order_id in list(self._by_order):
            keep: list[Parked] = []
            for parked in self._by_order[order_id]:
                (removed if condition(parked) else keep).append(parked)
            if keep:
                self._by_order[order_id] = keep
            else:
                del self._by_order[order_id]
        return removed
