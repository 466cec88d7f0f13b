"""Lesson 2's check: every key landed where murmur2 says, and kept its order there."""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect


@dataclass
class Landed:
    """One record as it came back from the broker."""

    key: str
    seq: int
    partition: int
    offset: int


@dataclass
class Seen:
    partitions: int
    sent: int
    landed: list[Landed]
    computed: dict[str, int]  # key → partition computed here with murmur2, before sending


def check(seen: Seen) -> list[Check]:
    by_key: dict[str, list[Landed]] = {}
    for record in seen.landed:
        by_key.setdefault(record.key, []).append(record)
    split = sorted(k for k, records in by_key.items() if len({r.partition for r in records}) > 1)
    reordered = sorted(
        k
        for k, records in by_key.items()
        if [r.seq for r in sorted(records, key=lambda r: r.offset)]
        != sorted(r.seq for r in records)
    )
    mismatched = sorted(
        k for k, records in by_key.items() if records[0].partition != seen.computed.get(k)
    )
    used = len({r.partition for r in seen.landed})
    return [
        equal("every record came back", seen.sent, len(seen.landed)),
        expect(
            "same key → same partition",
            not split,
            f"{len(by_key)} keys, each on one partition"
            if not split
            else f"keys on several partitions: {', '.join(split)}",
        ),
        expect(
            "order kept per key",
            not reordered,
            "offsets follow the send order for every key"
            if not reordered
            else f"out of order: {', '.join(reordered)}",
        ),
        expect(
            "computed partition = landed partition",
            not mismatched,
            f"murmur2(key) mod {seen.partitions} matched for all {len(by_key)} keys"
            if not mismatched
            else f"differs for: {', '.join(mismatched)}",
        ),
        expect(
            "keys spread over partitions", used > 1, f"{used} of {seen.partitions} partitions used"
        ),
    ]
