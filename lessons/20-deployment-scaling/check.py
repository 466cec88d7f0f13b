"""Lesson 20's check: with RF 3 and acks=all, a broker's death cost no acknowledged record."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect


@dataclass
class Seen:
    brokers: list[int]
    replicas: dict[int, list[int]]  # partition → replica broker ids
    isr_before: dict[int, list[int]]
    min_insync: str
    victim: int
    leaders_before: dict[int, int]
    leaders_after: dict[int, int]
    acked_before_kill: int
    acked: list[str]
    read_back: list[str]
    delivery_errors: list[str] = field(default_factory=list)
    isr_after_rejoin: dict[int, list[int]] = field(default_factory=dict)


def check(seen: Seen) -> list[Check]:
    acked, read = set(seen.acked), seen.read_back
    lost = sorted(acked - set(read), key=int)
    doubled = len(read) - len(set(read))
    orphaned = [p for p, leader in seen.leaders_after.items() if leader in (seen.victim, -1)]
    victim_led = [p for p, leader in seen.leaders_before.items() if leader == seen.victim]
    return [
        equal("three brokers", [1, 2, 3], sorted(seen.brokers)),
        expect(
            "replication factor 3",
            bool(seen.replicas) and all(len(r) == 3 for r in seen.replicas.values()),
            f"replicas {seen.replicas}",
        ),
        expect(
            "all replicas in sync before",
            bool(seen.isr_before) and all(len(i) == 3 for i in seen.isr_before.values()),
            f"ISR {seen.isr_before}",
        ),
        equal("min.insync.replicas", "2", seen.min_insync),
        expect(
            "the victim led a partition",
            bool(victim_led),
            f"broker {seen.victim} led partition(s) {victim_led}",
        ),
        expect(
            "new leaders elected",
            bool(seen.leaders_after) and not orphaned,
            f"leaders after: {seen.leaders_after}"
            if not orphaned
            else f"no live leader for {orphaned}",
        ),
        expect(
            "writes went on after the kill",
            len(acked) > seen.acked_before_kill,
            f"{seen.acked_before_kill} acked before, {len(acked)} in all",
        ),
        expect(
            "no acknowledged record lost",
            bool(acked) and not lost,
            f"{len(acked)} acknowledged, all read back"
            if not lost
            else f"{len(lost)} lost, e.g. {lost[:5]}",
        ),
        equal("no record written twice (idempotence)", 0, doubled),
        expect(
            "the broker rejoined the ISR",
            bool(seen.isr_after_rejoin)
            and all(len(i) == 3 for i in seen.isr_after_rejoin.values()),
            f"ISR {seen.isr_after_rejoin}",
        ),
    ]
