"""When each order is due: an open-loop schedule, so a slow response does not slow the plan.

Order i is due at start + i/rate, whatever happened to the orders before it. A worker that
picks order i up late sends it at once and the lateness is recorded as schedule slip — the
honest sign that the platform (or the driver) could not keep up with the asked rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Schedule:
    """Hands out order indexes to worker threads and says when each is due."""

    def __init__(
        self,
        orders: int,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.orders = orders
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0
        self._lock = threading.Lock()
        self.start = clock()
        self.max_slip = 0.0

    def restart(self) -> None:
        """Start the clock now (order 0 is due at once)."""
        self.start = self._clock()

    def due(self, index: int) -> float:
        """Monotonic time at which order `index` should be sent."""
        if self.rate is None:
            return self.start
        return self.start + index / self.rate

    def take(self) -> int | None:
        """The next order index to send (after waiting until it is due), or None when all are out."""
        with self._lock:
            if self._next >= self.orders:
                return None
            index = self._next
            self._next += 1
        wait = self.due(index) - self._clock()
        if wait > 0:
            self._sleep(wait)
        elif self.rate is not None:  # unpaced orders are never late
            slip = -wait
            with self._lock:
                self.max_slip = max(self.max_slip, slip)
        return index

    def taken(self) -> int:
        with self._lock:
            return self._next
