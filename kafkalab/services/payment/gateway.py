"""The simulated card gateway and what a charge request must look like. Pure and deterministic.

The gateway answers one of three things, like a real one:
- APPROVED: the money moved;
- DECLINED: the card works but the amount is above what the user can spend (insufficient
  funds) — a business answer, final, never retried;
- UNAVAILABLE: a transient failure (timeout, 503): nothing happened, try again later.

Transient failures are injected at `failure_rate` from a seeded RNG, so the same sequence of
calls fails the same way every run; `latency_ms` is slept on every call (through an injectable
`sleep`, so tests need not wait). `burst(seconds, failure_rate)` makes it fail harder for a
while — an outage to try the circuit breaker on (POST /chaos/gateway, `kafkalab chaos
fail-burst payment`); the seeded rate applies again once it is over. A real gateway would take the order id as an idempotency key
and refuse to charge it twice; here that job is the payment service's (see accounts.py).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    UNAVAILABLE = "unavailable"


class InvalidPayment(ValueError):
    """A request no gateway call can be made for (poison): it belongs in payments.DLT."""


@dataclass(frozen=True)
class ChargeRequest:
    """What the service charges, taken from an InventoryReserved event."""

    order_id: str
    user_id: str
    amount_cents: int
    card_masked: str

    @classmethod
    def from_reserved(cls, value: Mapping[str, Any]) -> ChargeRequest:
        """Validate an InventoryReserved value; raises InvalidPayment for a poison one."""
        try:
            order_id, user_id = str(value["order_id"]), str(value["user_id"])
            amount = int(value["total_cents"])
            card = str(value["card_masked"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayment(f"malformed InventoryReserved: {exc!r}") from exc
        if not order_id or not user_id:
            raise InvalidPayment("InventoryReserved without an order id or a user id")
        if amount < 0:
            raise InvalidPayment(f"negative amount {amount} for order {order_id}")
        return cls(order_id, user_id, amount, mask_card(card))


def mask_card(card: str) -> str:
    """Keep at most the last four digits of `card`; every other digit becomes '*'.

    Orders already send a masked card ("**** 4242"), which passes unchanged. This is defence in
    depth: should a full number ever reach payment, it still never leaves it in clear.
    """
    digits = len(re.findall(r"\d", card))
    hidden = max(0, digits - 4)
    out = []
    for char in card:
        if char.isdigit() and hidden > 0:
            out.append("*")
            hidden -= 1
        else:
            out.append(char)
    return "".join(out)


class Gateway:
    """A card gateway that is slow and flaky on purpose, and predictably so."""

    def __init__(
        self,
        failure_rate: float = 0.0,
        latency_ms: int = 0,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_rate(failure_rate)
        self.failure_rate = failure_rate  # may be changed at run time (chaos, tests)
        self.latency_ms = latency_ms
        self.calls = 0
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._clock = clock
        # A burst is one (until, rate) tuple, replaced whole: the HTTP thread sets it while the
        # service loop reads it, and a tuple assignment is atomic.
        self._burst: tuple[float, float] = (0.0, 0.0)

    def burst(self, seconds: float, failure_rate: float = 1.0) -> None:
        """Fail at `failure_rate` for the next `seconds` (0 seconds ends a burst now)."""
        _check_rate(failure_rate)
        if seconds < 0:
            raise ValueError(f"seconds must not be negative (got {seconds})")
        self._burst = (self._clock() + seconds, failure_rate)

    def burst_left(self) -> float:
        """Seconds the current burst still runs (0 when there is none)."""
        return max(0.0, self._burst[0] - self._clock())

    def current_failure_rate(self) -> float:
        until, rate = self._burst
        return rate if self._clock() < until else self.failure_rate

    def charge(self, amount_cents: int, available_cents: int) -> Outcome:
        """Try to charge `amount_cents` to a user who can spend `available_cents`."""
        self.calls += 1
        if self.latency_ms > 0:
            self._sleep(self.latency_ms / 1000)
        rate = self.current_failure_rate()
        if self._rng.random() < rate:  # random() < 1.0 always: rate 1 always fails
            return Outcome.UNAVAILABLE
        if amount_cents > available_cents:
            return Outcome.DECLINED
        return Outcome.APPROVED


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"failure_rate must be between 0 and 1 (got {rate})")
