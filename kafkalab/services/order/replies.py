"""Request-reply bookkeeping: HTTP threads wait here for the StockCheckReplied that carries
their correlation_id, while the feed thread hands every reply in.

Every replica reads *all* partitions of the reply topic (the reply is keyed by correlation_id,
not by replica), so replies meant for other replicas are simply not found here and dropped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kafkalab.events.serde import Event


@dataclass
class PendingReply:
    correlation_id: str
    arrived: threading.Event = field(default_factory=threading.Event)
    reply: Event | None = None

    def wait(self, timeout: float) -> Event | None:
        """The reply, or None when none came within `timeout` seconds."""
        return self.reply if self.arrived.wait(timeout) else None


class ReplyBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, PendingReply] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def expect(self, correlation_id: str) -> PendingReply:
        """Register interest *before* sending the request, so a fast reply cannot be missed."""
        pending = PendingReply(correlation_id)
        with self._lock:
            self._pending[correlation_id] = pending
        return pending

    def forget(self, correlation_id: str) -> None:
        """Stop waiting (answered or timed out); a late reply is then dropped."""
        with self._lock:
            self._pending.pop(correlation_id, None)

    def deliver(self, reply: Event) -> bool:
        """Wake the request waiting for `reply`; False when nobody here waits for it."""
        with self._lock:
            pending = self._pending.pop(str(reply.value.get("correlation_id", "")), None)
        if pending is None:
            return False
        pending.reply = reply
        pending.arrived.set()
        return True
