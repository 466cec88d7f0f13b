"""Lesson 3's check: both clients delivered every one of the same messages, exactly once each,
keys landed alike, and acks=0 really meant "no answer from the broker"."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, expect


@dataclass
class Run:
    """One client producing the whole message set to its own topic."""

    client: str
    sent: int
    delivered: int  # delivery reports that came back without an error
    failed: int  # delivery reports that came back with an error
    seconds: float  # from the first send to the end of flush()
    distinct_on_topic: int  # distinct sequence numbers read back from the topic
    records_on_topic: int  # records read back (more than distinct = duplicates)
    per_request: float = 0.0  # records per produce request: what batching achieved
    partition_of_key: dict[str, int] = field(default_factory=dict)


@dataclass
class Seen:
    messages: int
    runs: list[Run]
    acks_all_offsets: list[int | None]  # offsets in the delivery reports with acks=all
    acks_zero_offsets: list[int | None]  # … and with acks=0


def check(seen: Seen) -> list[Check]:
    checks: list[Check] = []
    for run in seen.runs:
        checks.append(
            expect(
                f"{run.client}: every delivery report ok",
                run.delivered == seen.messages and run.failed == 0,
                f"{run.delivered:,} delivered, {run.failed:,} failed of {seen.messages:,}",
            )
        )
        checks.append(
            expect(
                f"{run.client}: each message on the topic once",
                run.distinct_on_topic == seen.messages and run.records_on_topic == seen.messages,
                f"{run.distinct_on_topic} distinct of {seen.messages}, {run.records_on_topic} records read back",
            )
        )
    measured = [r for r in seen.runs if r.seconds > 0]
    checks.append(
        expect(
            "both clients measured",
            {r.client for r in measured} == {"kafka-python", "confluent-kafka"},
            ", ".join(f"{r.client} {r.sent / r.seconds:,.0f} msg/s" for r in measured)
            or "no figures",
        )
    )
    checks.append(
        expect(
            "both clients batch",
            len(seen.runs) == 2 and all(r.per_request > 1 for r in seen.runs),
            ", ".join(
                f"{r.client} {r.per_request:,.0f} records per produce request" for r in seen.runs
            ),
        )
    )
    maps = [r.partition_of_key for r in seen.runs]
    same = len(maps) == 2 and bool(maps[0]) and maps[0] == maps[1]
    checks.append(
        expect(
            "same key → same partition in both clients",
            same,
            f"{len(maps[0]) if maps else 0} keys agree (both hash with murmur2)"
            if same
            else "the clients put some keys on different partitions",
        )
    )
    checks.append(
        expect(
            "acks=all reports an offset",
            bool(seen.acks_all_offsets)
            and all(o is not None and o >= 0 for o in seen.acks_all_offsets),
            f"offsets {seen.acks_all_offsets}",
        )
    )
    checks.append(
        expect(
            "acks=0 reports no offset",
            bool(seen.acks_zero_offsets)
            and all(o is None or o < 0 for o in seen.acks_zero_offsets),
            f"offsets {seen.acks_zero_offsets}",
        )
    )
    return checks
