"""Lesson 20's check: with RF 3 and acks=all, a broker's death cost no acknowledged record."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect


@dataclass
class Moved:
    """A topic moved off broker 1 onto broker 3 with kafka-reassign-partitions."""

    before: dict[int, list[int]]  # partition → replicas (AdminClient), before
    proposed: dict[int, list[int]]  # … in the plan --generate printed
    verified: int  # partitions --verify called completed
    after: dict[int, list[int]]  # … read back with the AdminClient afterwards
    isr_after: dict[int, list[int]]


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
    strict_min_insync: str = ""  # read back from the broker for a topic that asks for 3
    short_isr: list[int] = field(default_factory=list)  # its ISR with the victim down
    short_write: str = ""  # the broker's answer to acks=all then ("" = written)
    whole_write: str = ""  # … and once the victim rejoined
    session_timeout: str = ""  # broker.session.timeout.ms as broker 1 runs with it
    leader_after_kill: int = -1  # partition 0's leader in the metadata right after the kill
    elr_while_down: list[int] = field(default_factory=list)  # the strict topic's ELR then
    elr_after_rejoin: list[int] = field(default_factory=list)
    moved: Moved | None = None


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
        _min_insync(seen),
        expect(
            "the victim led a partition",
            bool(victim_led),
            f"broker {seen.victim} led partition(s) {victim_led}",
        ),
        _session(seen),
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
        _elr(seen),
        _moved(seen.moved),
    ]


def _session(seen: Seen) -> Check:
    """A SIGKILLed broker says nothing: the controller finds out when its heartbeats stop for
    broker.session.timeout.ms, and until then the metadata still names it leader."""
    return expect(
        "the controller waited for the dead broker's session to run out",
        seen.session_timeout == "9000" and seen.leader_after_kill == seen.victim,
        f"right after the kill partition 0's leader was still broker {seen.leader_after_kill}; "
        f"broker.session.timeout.ms={seen.session_timeout or '?'}",
    )


def _elr(seen: Seen) -> Check:
    """KIP-966: the strict topic (min.insync.replicas=3) had an ISR of 2 while the victim was
    down, so the victim's replica — fenced, but holding every committed record — was kept as
    an Eligible Leader Replica, and left the ELR when it rejoined the ISR."""
    ok = seen.elr_while_down == [seen.victim] and not seen.elr_after_rejoin
    return expect(
        "the strict topic kept the dead broker as an eligible leader replica",
        ok,
        f"ELR {seen.elr_while_down} while broker {seen.victim} was down (ISR {seen.short_isr} "
        f"< min.insync.replicas {seen.strict_min_insync}), {seen.elr_after_rejoin} once it "
        "rejoined",
    )


def _moved(moved: Moved | None) -> Check:
    name = "kafka-reassign-partitions moved the topic onto broker 3"
    if moved is None:
        return expect(name, False, "the demo did not get to the reassignment")
    on_two = all(set(r) == {1, 2} for r in moved.before.values())
    placed = all(moved.after.get(p) == r and set(r) == {2, 3} for p, r in moved.proposed.items())
    whole = all(sorted(i) == sorted(moved.after[p]) for p, i in moved.isr_after.items())
    return expect(
        name,
        bool(moved.proposed)
        and on_two
        and placed
        and whole
        and moved.verified == len(moved.proposed),
        f"replicas {moved.before} → plan {moved.proposed}, --verify completed "
        f"{moved.verified}, read back {moved.after} (ISR {moved.isr_after})",
    )


def _min_insync(seen: Seen) -> Check:
    """The setting as the broker holds it (describe_configs), and its effect while one broker
    was down: payments (2) kept taking acks=all writes with two replicas in sync, and a topic
    asking for 3 was refused NOT_ENOUGH_REPLICAS, then accepted once the third was back."""
    name = "min.insync.replicas enforced by the broker"
    if seen.min_insync != "2" or seen.strict_min_insync != "3":
        return expect(
            name,
            False,
            f"the broker holds min.insync.replicas={seen.min_insync} for payments and "
            f"{seen.strict_min_insync} for the strict topic; the demo needs 2 and 3",
        )
    if len(seen.short_isr) >= 3:
        return expect(name, False, f"the strict topic's ISR {seen.short_isr} was never short")
    if seen.short_write != "NOT_ENOUGH_REPLICAS":
        return expect(
            name,
            False,
            f"acks=all with {len(seen.short_isr)} of 3 in sync got "
            f"{seen.short_write or 'written'}, not NOT_ENOUGH_REPLICAS",
        )
    if seen.whole_write:
        return expect(name, False, f"with 3 in sync again the write got {seen.whole_write}")
    return expect(
        name,
        True,
        f"the broker holds 2 for payments; a topic holding 3 refused acks=all with "
        f"NOT_ENOUGH_REPLICAS at ISR {seen.short_isr}, then took it once all 3 were back",
    )
