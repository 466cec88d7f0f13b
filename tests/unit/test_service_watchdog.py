"""`services.watchdog`: a replica stuck in a transactional call ends, so a fresh one fences it."""

from __future__ import annotations

import threading

from kafkalab.services.watchdog import EXIT_STUCK, Watchdog


def test_a_call_that_outlives_the_bound_ends_the_process() -> None:
    ended: list[int] = []
    fired = threading.Event()

    def end(status: int) -> None:
        ended.append(status)
        fired.set()

    with Watchdog("send_offsets_to_transaction", seconds=0.01, end=end):
        assert fired.wait(10)  # the call "hangs" until the watchdog has fired
    assert ended == [EXIT_STUCK]


def test_a_call_that_returns_disarms_it() -> None:
    ended: list[int] = []
    dog = Watchdog("commit_transaction", seconds=3600, end=ended.append)
    with dog:
        pass
    assert dog._timer is not None
    dog._timer.join(10)  # cancelled: the timer thread ends without firing
    assert not dog._timer.is_alive()
    assert ended == []
