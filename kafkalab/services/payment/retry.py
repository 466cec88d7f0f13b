"""The retry schedule of transient payment failures, and how it travels in record headers.

A payment the gateway could not take is not retried in place (that would stall every other
payment behind it): the InventoryReserved event is written to payments.retry with two headers,
`retry.attempts` (gateway attempts made so far) and `retry.not_before` (epoch ms before which
it must not be tried again). The delay doubles with each attempt, capped, and after
`max_attempts` attempts the payment fails for good with reason "gateway_unavailable".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HEADER_ATTEMPTS = "retry.attempts"
HEADER_NOT_BEFORE = "retry.not_before"
HEADER_REASON = "retry.reason"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base, 2·base, 4·base, … capped at `cap_seconds`."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        if attempts < 1:
            raise ValueError("attempts start at 1")
        return min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))

    def schedule(self) -> list[float]:
        """Every wait a payment can go through before it fails: one per retry."""
        return [self.delay(n) for n in range(1, self.max_attempts)]

    def exhausted(self, attempts: int) -> bool:
        """No attempt left after `attempts` failed ones."""
        return attempts >= self.max_attempts

    def ticket(self, attempts: int, now_ms: int) -> RetryTicket:
        """The retry after the `attempts`-th failure, due after its backoff."""
        return RetryTicket(attempts, now_ms + int(self.delay(attempts) * 1000))


@dataclass(frozen=True)
class RetryTicket:
    """What a payments.retry record says about itself."""

    attempts: int
    not_before_ms: int

    def due(self, now_ms: int) -> bool:
        return now_ms >= self.not_before_ms

    def headers(self, reason: str) -> list[tuple[str, bytes]]:
        return [
            (HEADER_ATTEMPTS, str(self.attempts).encode()),
            (HEADER_NOT_BEFORE, str(self.not_before_ms).encode()),
            (HEADER_REASON, reason.encode()),
        ]

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RetryTicket:
        """Parse the headers of a payments.retry record; ValueError when they are missing or
        malformed (such a record is poison: nobody can tell how often it was tried)."""
        try:
            attempts = int(headers[HEADER_ATTEMPTS])
            not_before = int(headers[HEADER_NOT_BEFORE])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"payments.retry record without valid retry headers: {exc!r}") from exc
        if attempts < 1:
            raise ValueError(f"retry.attempts must be at least 1 (got {attempts})")
        return cls(attempts, not_before)
