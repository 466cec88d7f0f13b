"""The audit's bookkeeping: what the producer was told, against what the log holds.

Jepsen's question, asked of one producer: of the writes the broker *acknowledged* (a delivery
report without an error), which are missing from the log read back (lost), which are there
more than once (duplicates), and which come back out of the order they were written in, per
key (reordered)? Writes that were never acknowledged may or may not be there, and either is
allowed: only acknowledged writes are promised.

Pure functions over plain values, so the counting is unit-tested without a broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

Write = tuple[str, int]
"""(key, sequence number): the n-th write of that key, numbered from 0."""

EXAMPLES = 5


@dataclass(frozen=True)
class Tally:
    """One producer's writes, judged against the read-back."""

    sent: int
    """Writes handed to the producer."""
    acknowledged: int
    """Delivery reports without an error: the broker said "stored"."""
    failed: int
    """Delivery reports with an error: the producer knew these did not (surely) land."""
    lost: int
    """Acknowledged, but not in the log."""
    duplicates: int
    """Extra copies: a write found n times counts n − 1."""
    reordered: int
    """Records that came back after a later write of the same key (duplicates not counted)."""
    unacknowledged_present: int
    """Writes not acknowledged (failed, or no answer) that are in the log all the same."""
    lost_examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing doubled, nothing out of order."""
        return self.lost == 0 and self.duplicates == 0 and self.reordered == 0


def account(
    sent: int, acknowledged: Iterable[Write], failed: int, read_back: Iterable[Write]
) -> Tally:
    """Compare the acknowledged writes with the log (`read_back`, in log order per key)."""
    acked = set(acknowledged)
    copies: Counter[Write] = Counter()
    highest: dict[str, int] = {}
    reordered = 0
    for key, seq in read_back:
        copies[(key, seq)] += 1
        if copies[(key, seq)] > 1:
            continue  # a duplicate: counted below, not also as a reordering
        if seq < highest.get(key, -1):
            reordered += 1
        highest[key] = max(highest.get(key, -1), seq)
    lost = sorted(w for w in acked if w not in copies)
    return Tally(
        sent=sent,
        acknowledged=len(acked),
        failed=failed,
        lost=len(lost),
        duplicates=sum(n - 1 for n in copies.values()),
        reordered=reordered,
        unacknowledged_present=sum(1 for w in copies if w not in acked),
        lost_examples=tuple(f"{key}#{seq}" for key, seq in lost[:EXAMPLES]),
    )


def encode(key: str, seq: int) -> bytes:
    """The record value the audit writes: readable in `kafkalab tail`, parsed back below."""
    return f"{key}#{seq}".encode()


def decode(value: bytes | None) -> Write | None:
    """(key, seq) from a record value; None for a record the audit did not write."""
    if not value:
        return None
    key, sep, seq = value.decode(errors="replace").rpartition("#")
    if not sep or not seq.isdigit():
        return None
    return key, int(seq)
