"""End a replica whose transactional call never returns, so that a fresh one takes over.

Why: librdkafka's `send_offsets_to_transaction()` can block forever after a broker fault. It
asks the group coordinator it has cached; when that broker was dropped from the metadata
(killed, bounced), nothing wakes the request up again, and the call ignores its timeout
(librdkafka issues #5511 and #5456, open in 2.15.0). Seen in `kafkalab soak`: the payment
service stuck in that call for minutes while /health said ok and 1,248 events waited.

The main thread is inside librdkafka and cannot be interrupted, so a timer thread ends the
process (exit status 1): the supervisor starts the replica again, and its
`init_transactions()` with the same transactional.id fences the stuck one and aborts its open
transaction. Exactly-once holds: the batch's outputs and offsets were never committed, and
the new replica reads the batch again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

STUCK_AFTER = 30.0
"""Seconds a transactional call may take: an election under a broker fault takes ~9-12 s
(`broker.session.timeout.ms` and the vote), so a call still blocked after 30 s is stuck."""
EXIT_STUCK = 1


class Watchdog:
    """`with Watchdog("send_offsets_to_transaction"):` — the process ends if the block is
    still running after `seconds`."""

    def __init__(
        self,
        what: str,
        seconds: float = STUCK_AFTER,
        end: Callable[[int], object] = os._exit,
    ) -> None:
        self.what, self.seconds, self.end = what, seconds, end
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Watchdog:
        self._timer = threading.Timer(self.seconds, self.fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def fire(self) -> None:
        log.error(
            "%s still blocked after %.0f s (librdkafka #5511): exiting so the supervisor "
            "starts a fresh replica, whose init_transactions() fences this one",
            self.what,
            self.seconds,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        self.end(EXIT_STUCK)
