"""Lesson 8's check: the crash lost exactly what theory says (commit first) or repeated exactly
what theory says (commit after), and nothing else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect


@dataclass
class Run:
    """One consumer strategy: what it processed over the crash and the restart."""

    strategy: str  # "at-most-once" or "at-least-once"
    processed: list[int]  # offsets processed, in order, both lives of the consumer together
    crash_batch: list[int]  # offsets of the batch the crash interrupted
    done_before_crash: list[int]  # those of crash_batch processed before the crash


@dataclass
class Seen:
    sent: int
    at_most_once: Run
    at_least_once: Run


def lost(run: Run, sent: int) -> list[int]:
    return sorted(set(range(sent)) - set(run.processed))


def duplicated(run: Run) -> list[int]:
    return sorted(offset for offset, n in Counter(run.processed).items() if n > 1)


def check(seen: Seen) -> list[Check]:
    amo, alo = seen.at_most_once, seen.at_least_once
    # The theory, from where the crash happened: committing first loses the rest of the batch;
    # committing after repeats the part of the batch done before the crash.
    amo_theory = [o for o in amo.crash_batch if o not in amo.done_before_crash]
    alo_theory = list(alo.done_before_crash)
    return [
        expect(
            "the crash hit mid-batch",
            bool(amo_theory and amo.done_before_crash and alo_theory),
            f"at-most-once: {len(amo.done_before_crash)} of {len(amo.crash_batch)} done; "
            f"at-least-once: {len(alo.done_before_crash)} of {len(alo.crash_batch)} done",
        ),
        equal("at-most-once lost the rest of the batch", amo_theory, lost(amo, seen.sent)),
        equal("at-most-once repeated nothing", [], duplicated(amo)),
        equal("at-least-once repeated what it had done", alo_theory, duplicated(alo)),
        equal("at-least-once lost nothing", [], lost(alo, seen.sent)),
    ]
