"""The circuit breaker around the gateway and the retry schedule of transient failures."""

from __future__ import annotations

import pytest

from kafkalab.services.payment.breaker import GAUGE_VALUE, CircuitBreaker, CircuitState
from kafkalab.services.payment.retry import (
    HEADER_ATTEMPTS,
    HEADER_NOT_BEFORE,
    HEADER_REASON,
    RetryPolicy,
    RetryTicket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_k_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down_seconds=10, clock=Clock())
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state() is CircuitState.CLOSED
    breaker.record_success()  # a success resets the count: failures must be consecutive
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state() is CircuitState.OPEN
    assert not breaker.allow()


def test_breaker_half_opens_after_the_cool_down_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cool_down_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 4.9
    assert breaker.state() is CircuitState.OPEN and not breaker.allow()
    clock.now += 0.1
    assert breaker.state() is CircuitState.HALF_OPEN
    assert breaker.allow()  # the one trial call
    assert not breaker.allow()  # nobody else while it is in flight
    breaker.record_success()
    assert breaker.state() is CircuitState.CLOSED and breaker.allow()


def test_a_failed_trial_opens_the_breaker_for_a_fresh_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cool_down_seconds=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()  # one failure in half-open is enough
    assert breaker.state() is CircuitState.OPEN
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_breaker_gauge_values() -> None:
    assert GAUGE_VALUE == {CircuitState.CLOSED: 0, CircuitState.OPEN: 1, CircuitState.HALF_OPEN: 2}
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_seconds=0.5, cap_seconds=4.0)
    assert policy.schedule() == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [policy.exhausted(n) for n in range(1, 7)] == [False] * 5 + [True]
    with pytest.raises(ValueError):
        policy.delay(0)


def test_the_default_schedule_gives_up_after_five_attempts() -> None:
    policy = RetryPolicy()
    assert policy.schedule() == [0.5, 1.0, 2.0, 4.0]
    assert policy.exhausted(5) and not policy.exhausted(4)


def test_a_ticket_is_due_after_its_backoff_and_travels_in_headers() -> None:
    ticket = RetryPolicy(base_seconds=0.25).ticket(attempts=2, now_ms=10_000)
    assert ticket == RetryTicket(2, 10_500)
    assert not ticket.due(10_499) and ticket.due(10_500)
    headers = {k: v.decode() for k, v in ticket.headers("gateway error")}
    assert headers == {
        HEADER_ATTEMPTS: "2",
        HEADER_NOT_BEFORE: "10500",
        HEADER_REASON: "gateway error",
    }
    assert RetryTicket.from_headers(headers) == ticket


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HEADER_ATTEMPTS: "x", HEADER_NOT_BEFORE: "1"},
        {HEADER_ATTEMPTS: "0", HEADER_NOT_BEFORE: "1"},
    ],
)
def test_a_retry_record_without_valid_headers_is_poison(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        RetryTicket.from_headers(headers)


def test_a_gateway_failure_burst_opens_the_breaker_and_a_probe_closes_it_after() -> None:
    """The high-load scenario's story: outage → open (no calls) → half-open probe → closed."""
    from kafkalab.services.payment.gateway import Gateway, Outcome

    clock = Clock()
    gateway = Gateway(clock=clock)
    breaker = CircuitBreaker(failure_threshold=5, cool_down_seconds=5, clock=clock)
    gateway.burst(3, failure_rate=1.0)

    def attempt() -> Outcome | None:
        if not breaker.allow():
            return None  # not called: the payment goes to payments.retry
        outcome = gateway.charge(1, 10)
        breaker.record_success() if outcome is Outcome.APPROVED else breaker.record_failure()
        return outcome

    assert [attempt() for _ in range(5)] == [Outcome.UNAVAILABLE] * 5
    assert breaker.state() is CircuitState.OPEN
    calls = gateway.calls
    clock.now += 3  # burst over, but still cooling down: nothing reaches the gateway
    assert attempt() is None and gateway.calls == calls
    clock.now += 2
    assert breaker.state() is CircuitState.HALF_OPEN
    assert attempt() is Outcome.APPROVED  # the probe
    assert breaker.state() is CircuitState.CLOSED
