"""What became of a chaos run's background load, in the counts a learner needs to trust a
verdict: planned, accepted, refused (with the HTTP status and why), confirmed, cancelled,
rejected, lost; and, per fault, the orders it delayed or had refused.

Kept apart from the runner so the counting is unit-tested on plain LoadReports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafkalab.load.report import Disruption, LoadReport


@dataclass
class LoadTally:
    """What became of the background load's orders, as the timeline and the CLI print it."""

    planned: int
    accepted: int
    refused: int
    confirmed: int
    cancelled: int
    rejected: int
    lost: int
    refused_why: dict[str, int] = field(default_factory=dict)
    """Refusals by answer: "503 Kafka did not acknowledge the order; try again": 3, …"""
    retried: int = 0
    """Orders that needed more than one attempt (Retry-After, a refused connection)."""
    setup_retries: int = 0
    """Set-up requests (register, login, stock) sent again during a fault."""

    @classmethod
    def of(cls, load: LoadReport) -> LoadTally:
        both = (load.orders, load.failing)
        return cls(
            load.plan.orders,
            sum(o.accepted for o in both),
            sum(load.refused.values()),
            sum(o.confirmed for o in both),
            sum(o.cancelled for o in both),
            sum(o.rejected for o in both),
            load.lost,
            dict(load.refused),
            sum(1 for d in load.disruptions if d.retries),
            load.setup_retries,
        )

    @classmethod
    def total(cls, tallies: Iterable[LoadTally]) -> LoadTally:
        """The sum of several loads' tallies (a soak's load started again after it died): the
        counts added, the refusals merged by reason."""
        out = cls(0, 0, 0, 0, 0, 0, 0)
        for t in tallies:
            for name in COUNTS:
                setattr(out, name, getattr(out, name) + getattr(t, name))
            for reason, n in t.refused_why.items():
                out.refused_why[reason] = out.refused_why.get(reason, 0) + n
        return out

    @property
    def unaccounted(self) -> int:
        """Planned orders neither accepted nor refused (the load stopped before sending them)."""
        return max(self.planned - self.accepted - self.refused, 0)

    def __str__(self) -> str:
        line = (
            f"{self.planned} planned, {self.accepted} accepted, {self.refused} refused, "
            f"{self.confirmed} confirmed, {self.cancelled} cancelled, {self.rejected} rejected, "
            f"{self.lost} lost"
        )
        if self.unaccounted:
            line += f", {self.unaccounted} never sent"
        if self.refused_why:
            why = "; ".join(f"{n} × {reason}" for reason, n in self.refused_why.items())
            line += f" (refused: {why})"
        if self.retried or self.setup_retries:
            line += f"; {self.retried} order(s) and {self.setup_retries} set-up request(s) retried"
        return line


COUNTS = tuple(f.name for f in fields(LoadTally) if f.name != "refused_why")
"""LoadTally's fields that are counts (they add up across loads)."""


@dataclass(frozen=True)
class FaultImpact:
    """The orders one fault touched: sent between the fault and its recovery (or the next
    fault), and delayed (slow or retried but accepted) or refused."""

    fault: int
    """1 for the first fault of the run, 2 for the second, …"""
    delayed: int
    refused: int

    def __str__(self) -> str:
        return f"fault {self.fault}: {self.delayed} order(s) delayed, {self.refused} refused"


def impacts(
    windows: Iterable[tuple[int, int | None]], disruptions: Iterable[Disruption]
) -> list[FaultImpact]:
    """Per fault window (epoch ms from, to; None: open), the orders disrupted inside it.

    A request belongs to the window its first attempt started in; one started a little
    before a fault but answered after it was hit too, so a request counts for the window
    its answer fell in when its start does not fall in any."""
    spans = list(windows)
    counts = [[0, 0] for _ in spans]
    for d in disruptions:
        end_ms = d.at_ms + int(d.seconds * 1000)
        for i, (start, stop) in enumerate(spans):
            inside = start <= d.at_ms and (stop is None or d.at_ms <= stop)
            answered_inside = d.at_ms < start <= end_ms
            if inside or answered_inside:
                counts[i][1 if d.refused else 0] += 1
                break
    return [FaultImpact(i + 1, delayed, refused) for i, (delayed, refused) in enumerate(counts)]
