"""Live fragments for server-sent events: a sampler thread per view, only while someone looks.

A page that updates live opens an EventSource on its stream; each message is JSON naming the
element to replace (`target`) and its new HTML. The sampling (Kafka and HTTP calls, blocking)
runs on a thread, started by the first listener and stopped after `idle_stop` seconds without
one, so an idle console costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from kafkalab.console.html import error_box
from kafkalab.errors import KafkalabError

log = logging.getLogger("kafkalab.console")


def message(target: str, html: str, mode: str = "replace") -> str:
    """One SSE frame: the element with id `target` gets `html` (replaced, or prepended)."""
    return "data: " + json.dumps({"target": target, "html": html, "mode": mode}) + "\n\n"


class Feed:
    """Runs `produce()` (→ HTML for element `target`) every `interval` s while listened to."""

    def __init__(
        self,
        target: str,
        produce: Callable[[], str],
        interval: float = 2.0,
        idle_stop: float = 30.0,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self.produce = produce
        self.interval = interval
        self.idle_stop = idle_stop
        self.on_stop = on_stop
        self.latest: str | None = None
        self.version = 0
        self._touched = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def touch(self) -> None:
        """Someone is looking: keep sampling (start if stopped)."""
        with self._lock:
            self._touched = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name=self.target)
                self._thread.start()

    def _run(self) -> None:
        try:
            while time.monotonic() - self._touched < self.idle_stop:
                self._once()
                time.sleep(self.interval)
        finally:
            if self.on_stop is not None:
                self.on_stop()

    def _once(self) -> None:
        try:
            html = self.produce()
        except KafkalabError as exc:
            html = error_box(exc.message, exc.hint or "")
        except Exception as exc:  # noqa: BLE001 - a page shows the failure and keeps trying
            log.warning("%s: %s", self.target, exc)
            html = error_box(f"{type(exc).__name__}: {exc}", "retrying every few seconds")
        if html != self.latest:
            self.latest = html
            self.version += 1

    async def events(self, disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
        """SSE frames: the current fragment, then each new one, until the page goes away."""
        seen = -1
        while True:
            self.touch()
            if self.version != seen and self.latest is not None:
                seen = self.version
                yield message(self.target, self.latest)
            if await disconnected():
                return
            await asyncio.sleep(0.5)
