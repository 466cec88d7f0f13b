"""The parking lot for early events: order per order, deadlines, partitions, commit floor."""

from __future__ import annotations

from kafkalab.events.serde import Event
from kafkalab.services.order.parking import Parked, ParkingLot


def event(event_id: str, topic: str = "payments", partition: int = 0, offset: int = 0) -> Event:
    return Event(topic, partition, offset, "o1", "PaymentCompleted", {"event_id": event_id})


def parked(order_id: str, ev: Event, until: float = 100.0) -> Parked:
    return Parked(order_id, ev, until)


def test_take_returns_an_orders_events_oldest_first_and_removes_them() -> None:
    lot = ParkingLot()
    lot.park(parked("o1", event("a", offset=5)))
    lot.park(parked("o2", event("b", offset=6)))
    lot.park(parked("o1", event("c", offset=7)))
    assert [p.event.event_id for p in lot.take("o1")] == ["a", "c"]
    assert lot.take("o1") == []
    assert len(lot) == 1


def test_the_same_event_is_parked_once() -> None:
    lot = ParkingLot()
    lot.park(parked("o1", event("a")))
    lot.park(parked("o1", event("a")))
    assert len(lot) == 1


def test_expired_events_leave_the_lot() -> None:
    lot = ParkingLot()
    lot.park(parked("o1", event("a"), until=10.0))
    lot.park(parked("o1", event("b"), until=20.0))
    assert [p.event.event_id for p in lot.expired(now=15.0)] == ["a"]
    assert [p.event.event_id for p in lot.take("o1")] == ["b"]


def test_events_of_partitions_no_longer_assigned_are_dropped() -> None:
    lot = ParkingLot()
    lot.park(parked("o1", event("a", partition=0)))
    lot.park(parked("o2", event("b", partition=1)))
    dropped = lot.drop_unassigned({("payments", 1)})
    assert [p.event.event_id for p in dropped] == ["a"]
    assert len(lot) == 1


def test_lowest_offsets_is_the_commit_floor_per_partition() -> None:
    lot = ParkingLot()
    assert lot.lowest_offsets() == {}
    lot.park(parked("o1", event("a", partition=0, offset=9)))
    lot.park(parked("o2", event("b", partition=0, offset=4)))
    lot.park(parked("o3", event("c", topic="inventory-events", partition=2, offset=7)))
    assert lot.lowest_offsets() == {("payments", 0): 4, ("inventory-events", 2): 7}
