"""Lesson 21's check: two share consumers took records from ONE partition, each record went to
one of them once, a released record came back with its delivery count raised and was then
rejected — judged from the consoles' output, `kafka-share-groups --describe` and the states the
broker's share coordinator wrote for every record."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, expect


@dataclass(frozen=True)
class Got:
    """One record as a console share consumer printed it."""

    offset: int
    delivery: int
    value: str


@dataclass
class Seen:
    partitions: int  # of the topic, read back from the broker
    sent: int  # records written before the two consumers started
    consumers: dict[str, list[Got]]  # what each of the two printed
    members: dict[str, list[str]]  # `--describe --members`: member id → its assignment
    retry_offset: int  # the record released, then rejected
    released: list[Got]  # what the --release consumer printed
    rejected: list[Got]  # what the --reject consumer printed after it
    history: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    """offset → every (state, delivery count) the share coordinator wrote, oldest first."""
    lag: str = ""  # LAG of the partition in `kafka-share-groups --describe`, once it was over


def check(seen: Seen) -> list[Check]:
    return [
        _shared(seen),
        _members(seen),
        _once(seen),
        _redelivered(seen),
        expect(
            "nothing left for the group",
            seen.lag == "0",
            f"kafka-share-groups --describe: LAG {seen.lag or '-'}"
            + ("" if seen.lag == "0" else ": records not yet accepted or archived"),
        ),
    ]


def _shared(seen: Seen) -> Check:
    counts = {name: len(got) for name, got in seen.consumers.items()}
    return expect(
        "two consumers took records from one partition",
        seen.partitions == 1 and len(counts) == 2 and all(counts.values()),
        f"{seen.partitions} partition(s); "
        + ", ".join(f"{name} printed {n}" for name, n in counts.items()),
    )


def _members(seen: Seen) -> Check:
    both = [m for m, assigned in seen.members.items() if assigned]
    return expect(
        "the broker assigned the partition to both members",
        len(both) >= 2 and len({tuple(a) for a in seen.members.values()}) == 1,
        f"kafka-share-groups --describe --members: {len(seen.members)} member(s), "
        + "; ".join(f"{m[:8]}… {','.join(a) or 'nothing'}" for m, a in seen.members.items()),
    )


def _once(seen: Seen) -> Check:
    name = "each record went to one consumer, once"
    offsets = [g.offset for got in seen.consumers.values() for g in got]
    wanted = set(range(seen.sent))
    twice = sorted({o for o in offsets if offsets.count(o) > 1})
    missing = sorted(wanted - set(offsets))
    if twice or missing:
        return expect(
            name, False, f"printed twice: {twice or 'none'}; never printed: {missing or 'none'}"
        )
    states = {o: seen.history.get(o, []) for o in wanted}
    off = {o: h for o, h in states.items() if h[-1:] != [("acknowledged", 1)]}
    if off:
        o = min(off)
        return expect(
            name,
            False,
            f"the share coordinator wrote {off[o] or 'nothing'} for offset {o}, not one "
            "acknowledgement at its first delivery",
        )
    return expect(
        name,
        True,
        f"offsets 0–{seen.sent - 1} printed once each; the share coordinator wrote each "
        "acknowledged at delivery 1",
    )


def _redelivered(seen: Seen) -> Check:
    name = "a released record came back, delivery count 2, then was rejected"
    first = [(g.offset, g.delivery) for g in seen.released]
    second = [(g.offset, g.delivery) for g in seen.rejected]
    history = seen.history.get(seen.retry_offset, [])
    wanted = [("available", 1), ("archived", 2)]
    ok = (
        first == [(seen.retry_offset, 1)]
        and second == [(seen.retry_offset, 2)]
        and history == wanted
    )
    return expect(
        name,
        ok,
        f"offset {seen.retry_offset}: --release printed {first}, --reject printed {second} "
        f"(offset, delivery); the share coordinator wrote {history}"
        + ("" if ok else f", expected {wanted}"),
    )
