"""The simulated gateway, charge validation, card masking and the per-order/per-user accounts."""

from __future__ import annotations

import pytest

from kafkalab.services.payment.accounts import COMPLETED, Accounts, Decision
from kafkalab.services.payment.gateway import (
    ChargeRequest,
    Gateway,
    InvalidPayment,
    Outcome,
    mask_card,
)


def test_approves_within_the_available_amount_and_declines_above() -> None:
    gateway = Gateway()
    assert gateway.charge(1_000, available_cents=1_000) is Outcome.APPROVED
    assert gateway.charge(1_001, available_cents=1_000) is Outcome.DECLINED
    assert gateway.charge(0, available_cents=0) is Outcome.APPROVED


def test_failure_rate_one_always_fails_and_zero_never() -> None:
    down, up = Gateway(failure_rate=1.0), Gateway(failure_rate=0.0)
    assert {down.charge(1, 10) for _ in range(200)} == {Outcome.UNAVAILABLE}
    assert {up.charge(1, 10) for _ in range(200)} == {Outcome.APPROVED}


def test_injected_failures_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[Outcome]:
        gateway = Gateway(failure_rate=0.3, seed=seed)
        return [gateway.charge(1, 10) for _ in range(300)]

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    failures = first.count(Outcome.UNAVAILABLE)
    assert 60 <= failures <= 120  # ~30 % of 300


def test_a_fix_at_run_time_takes_effect_on_the_next_call() -> None:
    gateway = Gateway(failure_rate=1.0)
    assert gateway.charge(1, 10) is Outcome.UNAVAILABLE
    gateway.failure_rate = 0.0
    assert gateway.charge(1, 10) is Outcome.APPROVED


def test_latency_is_slept_on_every_call() -> None:
    slept: list[float] = []
    gateway = Gateway(latency_ms=25, sleep=slept.append)
    gateway.charge(1, 10)
    gateway.charge(1, 0)
    assert slept == [0.025, 0.025] and gateway.calls == 2


def test_an_impossible_failure_rate_is_refused() -> None:
    with pytest.raises(ValueError):
        Gateway(failure_rate=1.5)


def test_charge_request_from_inventory_reserved() -> None:
    value = {"order_id": "o1", "user_id": "u1", "total_cents": 4999, "card_masked": "**** 4242"}
    assert ChargeRequest.from_reserved(value) == ChargeRequest("o1", "u1", 4999, "**** 4242")


@pytest.mark.parametrize(
    "value",
    [
        {"order_id": "o1", "user_id": "u1", "total_cents": -1, "card_masked": "4242"},
        {"order_id": "", "user_id": "u1", "total_cents": 1, "card_masked": "4242"},
        {"order_id": "o1", "user_id": "u1", "card_masked": "4242"},
        {"order_id": "o1", "user_id": "u1", "total_cents": "lots", "card_masked": "4242"},
    ],
)
def test_poison_charge_requests_are_refused(value: dict) -> None:
    with pytest.raises(InvalidPayment):
        ChargeRequest.from_reserved(value)


@pytest.mark.parametrize(
    ("card", "masked"),
    [
        ("**** **** **** 4242", "**** **** **** 4242"),
        ("4242", "4242"),
        ("4111 1111 1111 1234", "**** **** **** 1234"),
        ("4111111111111234", "************1234"),
        ("", ""),
    ],
)
def test_only_the_last_four_digits_ever_leave(card: str, masked: str) -> None:
    assert mask_card(card) == masked


def test_a_request_carrying_a_full_card_number_is_masked() -> None:
    value = {"order_id": "o", "user_id": "u", "total_cents": 1, "card_masked": "4111111111111234"}
    assert ChargeRequest.from_reserved(value).card_masked == "************1234"


def test_accounts_decide_each_order_once_and_track_spending() -> None:
    accounts = Accounts()
    assert accounts.available("u1", 10_000) == 10_000
    assert accounts.record(Decision("o1", "u1", 6_000, COMPLETED))
    assert not accounts.record(Decision("o1", "u1", 6_000, COMPLETED))  # at most one charge
    assert accounts.available("u1", 10_000) == 4_000
    assert accounts.record(Decision("o2", "u1", 9_000, "insufficient_funds"))
    assert accounts.spent("u1") == 6_000  # a failure spends nothing
    assert accounts.decision("o2") == Decision("o2", "u1", 9_000, "insufficient_funds")
    assert len(accounts) == 2


def test_accounts_snapshot_forgets_an_aborted_transaction() -> None:
    accounts = Accounts()
    accounts.record(Decision("o1", "u1", 100, COMPLETED))
    saved = accounts.snapshot()
    accounts.record(Decision("o2", "u1", 200, COMPLETED))
    accounts.restore(saved)
    assert accounts.decision("o2") is None and accounts.spent("u1") == 100
    assert accounts.record(Decision("o2", "u1", 200, COMPLETED))  # redone after the abort


def test_accounts_rebuilt_from_the_payments_topic() -> None:
    accounts = Accounts()
    past = [
        (
            "PaymentCompleted",
            {"order_id": "o1", "user_id": "u1", "amount_cents": 300, "attempts": 2},
        ),
        (
            "PaymentFailed",
            {
                "order_id": "o2",
                "user_id": "u1",
                "amount_cents": 900,
                "reason": "insufficient_funds",
                "attempts": 1,
            },
        ),
        (
            "PaymentCompleted",
            {"order_id": "o1", "user_id": "u1", "amount_cents": 300, "attempts": 1},
        ),
        ("SomethingElse", {"order_id": "o3"}),
    ]
    for event_type, value in past:
        accounts.replay(event_type, value)
    assert accounts.spent("u1") == 300  # the duplicate is not counted twice
    assert accounts.decision("o1") == Decision("o1", "u1", 300, COMPLETED, 2)
    assert accounts.decision("o2") is not None and not accounts.decision("o2").charged  # type: ignore[union-attr]
    assert accounts.decision("o3") is None


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_fails_every_call_for_its_seconds_then_the_usual_rate_is_back() -> None:
    clock = Clock()
    gateway = Gateway(failure_rate=0.0, clock=clock)
    gateway.burst(5, failure_rate=1.0)
    assert gateway.burst_left() == 5
    assert {gateway.charge(1, 10) for _ in range(50)} == {Outcome.UNAVAILABLE}
    clock.now += 4.9
    assert gateway.charge(1, 10) is Outcome.UNAVAILABLE
    clock.now += 0.1
    assert gateway.burst_left() == 0
    assert {gateway.charge(1, 10) for _ in range(50)} == {Outcome.APPROVED}


def test_a_burst_of_zero_seconds_ends_the_current_one() -> None:
    gateway = Gateway(clock=Clock())
    gateway.burst(60)
    gateway.burst(0)
    assert gateway.charge(1, 10) is Outcome.APPROVED


@pytest.mark.parametrize(("seconds", "rate"), [(-1, 1.0), (5, 1.5), (5, -0.1)])
def test_an_impossible_burst_is_refused(seconds: float, rate: float) -> None:
    with pytest.raises(ValueError):
        Gateway().burst(seconds, rate)
