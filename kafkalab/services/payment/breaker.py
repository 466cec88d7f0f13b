"""A circuit breaker around the gateway: stop calling a gateway that keeps failing.

    CLOSED --K consecutive failures--> OPEN --cool-down elapsed--> HALF_OPEN
    HALF_OPEN --trial call succeeds--> CLOSED
    HALF_OPEN --trial call fails-----> OPEN (a fresh cool-down)

While OPEN no call is made at all (the payment is retried later instead), which gives a
struggling gateway room to recover and spares each payment a pointless slow call. In HALF_OPEN
exactly one trial call is let through. Time comes from an injectable monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


GAUGE_VALUE: dict[CircuitState, int] = {
    CircuitState.CLOSED: 0,
    CircuitState.OPEN: 1,
    CircuitState.HALF_OPEN: 2,
}
"""How kafkalab_payment_circuit_state encodes the state (the usual 0/1/2 of resilience4j)."""


class CircuitBreaker:
    """Single-threaded (the service loop calls it); `state()` is safe to read from any thread."""

    def __init__(
        self,
        failure_threshold: int = 5,
        cool_down_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cool_down_seconds = cool_down_seconds
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    def state(self) -> CircuitState:
        """The current state; OPEN reads as HALF_OPEN once the cool-down has passed."""
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.cool_down_seconds
        ):
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """May the gateway be called now? In HALF_OPEN only the first caller gets a yes,
        until its outcome is recorded."""
        state = self.state()
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        self._state = CircuitState.HALF_OPEN
        if self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
        self._trial_in_flight = False
