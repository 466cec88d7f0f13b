"""Garbage collection kept in the main thread while librdkafka clients live on other threads.

Python's collector runs in whichever thread happens to allocate. When that thread is one of
librdkafka's own (a log or delivery callback) and the cycle it frees holds a Kafka client,
the client is destroyed from inside librdkafka, which crashes the process (confluent-kafka
issue #1761; its own tests disable the collector for this reason). `chaos audit` and `soak`
run producers, consumers and a load on threads for minutes, so they collect only here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def in_main_thread() -> Iterator[None]:
    """Turn automatic collection off for the block; `now()` collects where it is called."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if enabled:
            gc.enable()


def now() -> None:
    """Collect here and now (cheap: the young generations), from the calling thread."""
    gc.collect(1)
