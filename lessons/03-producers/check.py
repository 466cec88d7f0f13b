"""Lesson 3's check: both clients delivered every one of the same messages, exactly once each,
within the time they were measured by (the broker's append times say so), keys landed alike, and
acks=0 really meant "no answer from the broker"."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, expect

CLOCK_SLACK_MS = 50
"""How far the broker's clock may sit from ours: none on this machine (one clock), a little for
a cluster elsewhere kept in step by NTP. A timer that misses the flush misses far more."""


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
    timed_ms: tuple[int, int] = (0, 0)  # wall clock at the first send and at the end of flush()
    appended_ms: tuple[int, int] | None = None  # first and last LogAppendTime read back
    timestamp_type: str = ""  # the type of the timestamps read back ("LogAppendTime" expected)


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
                f"{run.distinct_on_topic} distinct of {seen.messages}, "
                f"{run.records_on_topic} records read back",
            )
        )
    clients = {r.client for r in seen.runs} == {"kafka-python", "confluent-kafka"}
    mismeasured = [problem for r in seen.runs if (problem := _timing_problem(r))]
    checks.append(
        expect(
            "both clients measured",
            clients and not mismeasured,
            "; ".join(mismeasured)
            if mismeasured
            else ", ".join(
                f"{r.client} {r.records_on_topic / r.seconds:,.0f} msg/s "
                f"(the broker appended them within its {r.seconds:.1f} s)"
                for r in seen.runs
            )
            or "no runs",
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


def _timing_problem(run: Run) -> str:
    """Why `run`'s figure is not the time its records took to reach the broker, or "".

    The race topics stamp each record with the broker's clock when it is appended
    (`message.timestamp.type=LogAppendTime`), so the records read back say when the broker
    really had them: all of them must fall inside the window the client timed. A timer stopped
    before `flush()` returned ends before the last append.
    """
    if run.appended_ms is None:
        return f"{run.client}: no record read back to time"
    if run.timestamp_type != "LogAppendTime":
        return (
            f"{run.client}: the records carry {run.timestamp_type or 'no'} timestamps, not the "
            "broker's append time (message.timestamp.type=LogAppendTime on the topic)"
        )
    start, end = run.timed_ms
    first, last = run.appended_ms
    if run.seconds <= 0 or end <= start:
        return f"{run.client}: not timed"
    if first < start - CLOCK_SLACK_MS:
        return (
            f"{run.client}: the broker appended a record {start - first} ms before the timer "
            "started"
        )
    if last > end + CLOCK_SLACK_MS:
        return (
            f"{run.client}: the broker appended records until {last - end} ms after the timer "
            "stopped (was flush() inside the timing?)"
        )
    return ""
