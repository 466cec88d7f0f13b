"""Lesson 6's check: what tail, trace, describe and lag report is exactly what the demo wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect

HEADERS = ("service", "trace_id", "causation_id")


@dataclass
class Record:
    """One record: as produced (from its delivery report) or as a tool showed it."""

    topic: str
    partition: int
    offset: int
    key: str
    event_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    produced: list[Record]
    tailed: list[Record]  # every record `tail --from-beginning` showed on the demo's topics
    chain: list[str]  # event ids of one order, cause first, as produced
    traced: list[str]  # event ids of that order, in the order trace put them
    created: dict[str, tuple[int, str]]  # topic → (partitions, retention.ms) asked for
    described: dict[str, tuple[int, str]]  # topic → (partitions, retention.ms) describe showed
    group_state: str
    group_members: int
    member_partitions: list[str]  # "topic[p]" assigned to the member while it read
    topic_partitions: list[str]  # every partition of the topic the group reads
    produced_to_group_topic: int
    processed: int  # records the group's consumer processed and committed
    lag: int  # what group_lag reported


def check(seen: Seen) -> list[Check]:
    where = {(r.topic, r.partition, r.offset): r for r in seen.tailed}
    missing = [r for r in seen.produced if (r.topic, r.partition, r.offset) not in where]
    different = [
        r
        for r in seen.produced
        if (shown := where.get((r.topic, r.partition, r.offset))) is not None
        and (shown.key, shown.event_type) != (r.key, r.event_type)
    ]
    wrong_headers = [
        r
        for r in seen.produced
        if (shown := where.get((r.topic, r.partition, r.offset))) is not None
        and any(shown.headers.get(h, "") != r.headers.get(h, "") for h in HEADERS)
    ]
    return [
        expect(
            "tail shows every record as produced",
            bool(seen.produced)
            and not missing
            and not different
            and len(seen.tailed) == len(seen.produced),
            f"{len(seen.tailed)} shown, {len(seen.produced)} produced, {len(missing)} missing, "
            f"{len(different)} with another key or type",
        ),
        expect(
            "headers as produced",
            bool(seen.produced) and not wrong_headers,
            f"{', '.join(HEADERS)} match on {len(seen.produced) - len(wrong_headers)} of "
            f"{len(seen.produced)} records",
        ),
        expect(
            "trace puts each event after its cause",
            len(seen.chain) > 1 and seen.traced == seen.chain,
            f"{len(seen.traced)} events traced, in the produced cause → effect order"
            if seen.traced == seen.chain
            else f"traced {seen.traced}, produced {seen.chain}",
        ),
        expect(
            "describe shows the topics as created",
            bool(seen.created) and seen.described == seen.created,
            f"{len(seen.described)} topics, partitions and retention.ms as created"
            if seen.described == seen.created
            else f"created {seen.created}, described {seen.described}",
        ),
        expect(
            "the group described while it reads",
            seen.group_state == "STABLE"
            and seen.group_members == 1
            and sorted(seen.member_partitions) == sorted(seen.topic_partitions),
            f"{seen.group_state}, {seen.group_members} member(s) holding "
            f"{', '.join(sorted(seen.member_partitions)) or 'nothing'}",
        ),
        equal(
            "lag = produced − processed",
            seen.produced_to_group_topic - seen.processed,
            seen.lag,
        ),
    ]
