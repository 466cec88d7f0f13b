"""Customers who change their mind: `kafkalab load --cancel-paid F` cancels a share F of the
paying customers' orders once they are CONFIRMED (paid, stock sold), through the order
service's POST /orders/{id}/cancel, as the customer would.

Each such order then owes the customer a refund and inventory owes the shelf its units: the
invariant checker judges both (and the refunds, when a refund service runs: lesson 22).
A cancel is sent once, never retried: its answer is counted either way.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from kafkalab.load import shop
from kafkalab.load.report import Cancels
from kafkalab.load.watch import OrderWatch
from kafkalab.settings import Settings

POLL = 0.05


class Canceller:
    """A thread that cancels each picked order as soon as the watcher sees it CONFIRMED."""

    def __init__(self, settings: Settings, watch: OrderWatch) -> None:
        self.settings = settings
        self.watch = watch
        self._lock = threading.Lock()
        self._waiting: dict[str, shop.Customer] = {}
        self._accepted: set[str] = set()
        self._ended: set[str] = set()  # picked, but ended otherwise: never cancellable
        self.tally = Cancels()
        self._refused: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-cancel", daemon=True)

    def pick(self, order_id: str, customer: shop.Customer) -> None:
        with self._lock:
            self._waiting[order_id] = customer
            self.tally.picked += 1

    def start(self) -> None:
        self._thread.start()

    def finish(self, deadline: float) -> Cancels:
        """Wait (until `deadline`, monotonic) for every picked order to be cancelled and the
        cancel read back, then stop; returns the tally."""
        while time.monotonic() < deadline and not self._done():
            time.sleep(POLL * 4)
        self._stopping.set()
        self._thread.join(10)
        with self._lock:
            self.tally.skipped = len(self._waiting) + len(self._ended)
            self.tally.seen = len(self._accepted & self.watch.recalled_ids())
            self.tally.refused = dict(sorted(self._refused.items()))
        return self.tally

    def _done(self) -> bool:
        with self._lock:
            if self._waiting:
                return False
            return self._accepted <= self.watch.recalled_ids()

    def _run(self) -> None:
        with httpx.Client(timeout=30.0) as http:
            while not self._stopping.is_set():
                for order_id, customer in self._due():
                    self._cancel(http, order_id, customer)
                time.sleep(POLL)

    def _due(self) -> list[tuple[str, shop.Customer]]:
        """Picked orders the watcher saw end: CONFIRMED ones to cancel; the others (expired,
        rejected) can no longer be, and are dropped from the wait."""
        _, terminal = self.watch.snapshot()
        due = []
        with self._lock:
            for order_id in list(self._waiting):
                end = terminal.get(order_id)
                if end is None:
                    continue
                customer = self._waiting.pop(order_id)
                if end.status == "CONFIRMED":
                    due.append((order_id, customer))
                else:
                    self._ended.add(order_id)
        return due

    def _cancel(self, http: httpx.Client, order_id: str, customer: shop.Customer) -> None:
        try:
            answer = http.post(
                shop.url(self.settings, "order", f"/orders/{order_id}/cancel"),
                headers={"Authorization": f"Bearer {customer.token}"},
            )
        except httpx.HTTPError as exc:
            why = type(exc).__name__
        else:
            if answer.status_code == 200:
                with self._lock:
                    self._accepted.add(order_id)
                    self.tally.accepted += 1
                return
            why = f"{answer.status_code} {_sentence(answer)}"
        with self._lock:
            self._refused[why] += 1


def _sentence(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("error", ""))[:80]
    except ValueError:
        return answer.text[:80]
