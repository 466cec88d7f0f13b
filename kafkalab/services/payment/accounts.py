"""What payment has decided per order and spent per user. Pure; the service owns one.

Two promises:
- one decision per order: once an order is charged (or failed for good) every later request
  for it is a duplicate, so there is at most one PaymentCompleted per order even if
  InventoryReserved is delivered twice;
- no overspending: a user can spend their profile balance (UserProfile.balance_cents on the
  `users` table) minus what this service has already charged them. Deliberately simple: the
  user service never learns about charges, so "balance" stays the balance at registration and
  the spent part lives here (rebuilt from `payments` at start). With several payment replicas
  each one only knows the charges it made or read at start — good enough for a teaching shop.

`snapshot()`/`restore()` let the service forget decisions of a Kafka transaction that aborted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COMPLETED = "completed"


@dataclass(frozen=True)
class Decision:
    """The outcome of one order: COMPLETED or the failure reason."""

    order_id: str
    user_id: str
    amount_cents: int
    outcome: str
    attempts: int = 1

    @property
    def charged(self) -> bool:
        return self.outcome == COMPLETED


@dataclass(frozen=True)
class AccountsSnapshot:
    decisions: dict[str, Decision]
    spent: dict[str, int]


class Accounts:
    def __init__(self) -> None:
        self._decisions: dict[str, Decision] = {}
        self._spent: dict[str, int] = {}

    def decision(self, order_id: str) -> Decision | None:
        return self._decisions.get(order_id)

    def spent(self, user_id: str) -> int:
        return self._spent.get(user_id, 0)

    def available(self, user_id: str, balance_cents: int) -> int:
        """What the user may still spend out of `balance_cents`."""
        return balance_cents - self.spent(user_id)

    def __len__(self) -> int:
        return len(self._decisions)

    def record(self, decision: Decision) -> bool:
        """Remember a decision; False (and nothing changes) if the order was decided before."""
        if decision.order_id in self._decisions:
            return False
        self._decisions[decision.order_id] = decision
        if decision.charged:
            self._spent[decision.user_id] = self.spent(decision.user_id) + decision.amount_cents
        return True

    def replay(self, event_type: str, value: Mapping[str, Any]) -> None:
        """Apply a past PaymentCompleted/PaymentFailed read back from the `payments` topic."""
        if event_type == "PaymentCompleted":
            outcome = COMPLETED
        elif event_type == "PaymentFailed":
            outcome = str(value["reason"])
        else:
            return
        self.record(
            Decision(
                str(value["order_id"]),
                str(value["user_id"]),
                int(value["amount_cents"]),
                outcome,
                int(value.get("attempts", 1)),
            )
        )

    def snapshot(self) -> AccountsSnapshot:
        return AccountsSnapshot(dict(self._decisions), dict(self._spent))

    def restore(self, snapshot: AccountsSnapshot) -> None:
        self._decisions = dict(snapshot.decisions)
        self._spent = dict(snapshot.spent)
