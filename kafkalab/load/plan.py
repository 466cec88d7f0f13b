"""What a load run sends: how many orders, how fast, by whom, and which of them must fail.

Pure and deterministic, so the same plan always produces the same orders: which orders are
placed by users who cannot pay is an even spread (not a coin toss), and each order's SKU comes
from a fixed rotation of cheap, well-stocked products.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from kafkalab.errors import InvalidChoice

DEFAULT_ORDERS = 5000
DEFAULT_USERS = 50
DEFAULT_CONCURRENCY = 32
MAX_ORDERS = 1_000_000
LOAD_SKUS = ("SKU-STICKER", "SKU-MUG", "SKU-BOOK", "SKU-TSHIRT")
"""Cheap items: a paying user never runs out of balance, whatever the order count."""
PAYING_BALANCE_CENTS = 10**11
BROKE_BALANCE_CENTS = 0
"""A user with nothing to spend: every one of their orders is declined (insufficient funds)."""
CARD_NUMBER = "4242 4242 4242 4242"


@dataclass(frozen=True)
class LoadPlan:
    orders: int = DEFAULT_ORDERS
    rate: float | None = None
    """Orders per second to aim for; None sends as fast as the workers can."""
    users: int = DEFAULT_USERS
    fail_rate: float = 0.0
    """Fraction of orders placed by users whose balance cannot pay (→ CANCELLED after the TTL)."""
    concurrency: int = DEFAULT_CONCURRENCY
    """HTTP requests in flight at most (worker threads, one keep-alive connection each)."""
    drain_timeout: float | None = None
    """Seconds after the last order was sent for every order to reach a terminal state; an order
    still open then is LOST. None: the reservation TTL + 30 s."""
    cancel_paid: float = 0.0
    """Fraction of the paying customers' orders their customer cancels once CONFIRMED."""

    def validate(self) -> LoadPlan:
        """The plan itself, or InvalidChoice naming the first bad value."""
        if not 1 <= self.orders <= MAX_ORDERS:
            raise InvalidChoice(
                f"--orders must be between 1 and {MAX_ORDERS:,} (got {self.orders})",
                hint="try `kafkalab load --orders 5000`",
            )
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise InvalidChoice(
                f"--rate must be a positive number of orders per second (got {self.rate})",
                hint="leave it out to send as fast as the platform takes them",
            )
        if not 1 <= self.users <= self.orders:
            raise InvalidChoice(
                f"--users must be between 1 and the number of orders ({self.orders}); got {self.users}",
                hint="each user places orders/users orders",
            )
        if not 0.0 <= self.fail_rate <= 1.0:
            raise InvalidChoice(
                f"--fail-rate must be between 0 and 1 (got {self.fail_rate})",
                hint="0.1 makes one order in ten fail its payment",
            )
        if self.fail_rate > 0 and self.users < 2 and self.fail_rate < 1:
            raise InvalidChoice(
                "--fail-rate between 0 and 1 needs at least 2 users (one who pays, one who cannot)",
                hint="add --users 2 or more",
            )
        if not 1 <= self.concurrency <= 256:
            raise InvalidChoice(
                f"--concurrency must be between 1 and 256 (got {self.concurrency})",
                hint="32 keeps a 2-core machine busy",
            )
        if self.drain_timeout is not None and self.drain_timeout <= 0:
            raise InvalidChoice(
                f"--drain-timeout must be positive (got {self.drain_timeout})",
                hint="seconds to wait for the last orders to finish",
            )
        if not 0.0 <= self.cancel_paid <= 1.0:
            raise InvalidChoice(
                f"--cancel-paid must be between 0 and 1 (got {self.cancel_paid})",
                hint="0.2 makes one paying customer in five cancel their order once it is paid",
            )
        return self

    def drain_seconds(self, reservation_ttl: float) -> float:
        return self.drain_timeout if self.drain_timeout is not None else reservation_ttl + 30.0


def failing(index: int, fail_rate: float) -> bool:
    """Whether order `index` is placed by a user who cannot pay.

    An even spread: exactly floor(N·F) of the first N orders fail, and they are spaced out
    rather than bunched, so a run cut short still has its share of failures.
    """
    return math.floor((index + 1) * fail_rate) > math.floor(index * fail_rate)


def cancelling(paid_index: int, cancel_paid: float) -> bool:
    """Whether the paying order `paid_index` (0, 1, … among the paying ones) is cancelled by its
    customer once CONFIRMED: the same even spread as `failing`."""
    return failing(paid_index, cancel_paid)


def user_split(users: int, fail_rate: float) -> tuple[int, int]:
    """(paying, broke) users: at least one of a kind when that kind places any order."""
    if fail_rate <= 0:
        return users, 0
    if fail_rate >= 1:
        return 0, users
    broke = min(max(1, round(users * fail_rate)), users - 1)
    return users - broke, broke


def sku(index: int) -> str:
    return LOAD_SKUS[index % len(LOAD_SKUS)]


def stock_needed(orders: int) -> dict[str, int]:
    """Units per SKU the plan's orders take at most (one unit each)."""
    return dict(Counter(sku(i) for i in range(orders)))
