"""What a load sends: rate pacing on a fake clock, the even spread of failing orders, and
one-sentence refusals of bad plans."""

from __future__ import annotations

import threading

import pytest

from kafkalab.errors import InvalidChoice
from kafkalab.load import plan as p
from kafkalab.load.pacing import Schedule


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_paced_schedule_sends_order_i_at_start_plus_i_over_rate() -> None:
    clock = FakeClock()
    schedule = Schedule(5, rate=10.0, clock=clock, sleep=clock.sleep)
    sent_at = []
    while (index := schedule.take()) is not None:
        sent_at.append((index, round(clock.now - 100.0, 6)))
    assert sent_at == [(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)]
    assert schedule.max_slip == 0.0
    assert schedule.take() is None


def test_a_late_order_is_sent_at_once_and_its_lateness_recorded() -> None:
    clock = FakeClock()
    schedule = Schedule(3, rate=10.0, clock=clock, sleep=clock.sleep)
    assert schedule.take() == 0
    clock.now += 0.35  # the worker was busy: order 1 was due at +0.1
    assert schedule.take() == 1
    assert clock.slept == []
    assert schedule.max_slip == pytest.approx(0.25)
    assert schedule.take() == 2  # due at +0.2, now +0.35: also late, no sleep
    assert schedule.max_slip == pytest.approx(0.25)


def test_open_loop_pacing_does_not_stretch_after_a_slow_response() -> None:
    """Order i stays due at start + i/rate: a stall is caught up, not carried forward."""
    clock = FakeClock()
    schedule = Schedule(4, rate=2.0, clock=clock, sleep=clock.sleep)
    schedule.take()
    clock.now += 1.2  # stall past orders 1 and 2's due times
    schedule.take()
    schedule.take()
    schedule.take()  # order 3 due at +1.5
    assert clock.now - 100.0 == pytest.approx(1.5)


def test_unpaced_orders_never_wait_and_are_never_late() -> None:
    clock = FakeClock()
    schedule = Schedule(3, rate=None, clock=clock, sleep=clock.sleep)
    clock.now += 5
    assert [schedule.take(), schedule.take(), schedule.take(), schedule.take()] == [0, 1, 2, None]
    assert clock.slept == [] and schedule.max_slip == 0.0


def test_each_index_is_handed_out_once_across_threads() -> None:
    schedule = Schedule(2000, rate=None)
    taken: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        while (index := schedule.take()) is not None:
            with lock:
                taken.append(index)

    workers = [threading.Thread(target=work) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(taken) == list(range(2000))


@pytest.mark.parametrize("orders,rate,expected", [(1000, 0.1, 100), (1000, 0.0, 0), (7, 1.0, 7)])
def test_exactly_floor_n_f_orders_fail(orders: int, rate: float, expected: int) -> None:
    assert sum(p.failing(i, rate) for i in range(orders)) == expected


def test_failing_orders_are_spread_out_not_bunched() -> None:
    picked = [i for i in range(100) if p.failing(i, 0.1)]
    assert picked == list(range(9, 100, 10))


def test_users_split_keeps_one_of_each_kind_that_places_orders() -> None:
    assert p.user_split(50, 0.0) == (50, 0)
    assert p.user_split(50, 0.1) == (45, 5)
    assert p.user_split(2, 0.01) == (1, 1)
    assert p.user_split(10, 0.99) == (1, 9)
    assert p.user_split(3, 1.0) == (0, 3)


def test_stock_needed_counts_one_unit_per_order() -> None:
    needed = p.stock_needed(10)
    assert sum(needed.values()) == 10
    assert set(needed) <= set(p.LOAD_SKUS)


@pytest.mark.parametrize(
    "plan,fragment",
    [
        (p.LoadPlan(orders=0), "--orders"),
        (p.LoadPlan(rate=0), "--rate"),
        (p.LoadPlan(rate=float("inf")), "--rate"),
        (p.LoadPlan(orders=10, users=11), "--users"),
        (p.LoadPlan(fail_rate=1.5), "--fail-rate"),
        (p.LoadPlan(users=1, fail_rate=0.5), "--fail-rate"),
        (p.LoadPlan(concurrency=0), "--concurrency"),
        (p.LoadPlan(drain_timeout=-1), "--drain-timeout"),
    ],
)
def test_bad_plans_are_refused_in_one_sentence_with_a_hint(plan: p.LoadPlan, fragment: str) -> None:
    with pytest.raises(InvalidChoice) as caught:
        plan.validate()
    assert fragment in caught.value.message
    assert caught.value.hint


def test_drain_defaults_to_the_reservation_ttl_plus_30_s() -> None:
    assert p.LoadPlan().drain_seconds(10.0) == 40.0
    assert p.LoadPlan(drain_timeout=5).drain_seconds(10.0) == 5
