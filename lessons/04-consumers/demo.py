"""Lesson 4: a poll loop that commits after processing, a restart that resumes at the commit, and
two replays — from the beginning, and from a point in time."""

from __future__ import annotations

import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    TopicPartition,
)

from kafkalab.curriculum.lab import Lab

from .check import Seen

PARTITIONS = 3
EARLY, LATE = 40, 20  # records stamped a minute ago, and records stamped now
PROCESS_FIRST = 30  # the first consumer stops after this many


def read(consumer: Consumer, limit: int | None = None, timeout: float = 30) -> list[int]:
    """Poll until `limit` records, or until every assigned partition reports its end (EOF)."""
    seqs: list[int] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (limit is None or len(seqs) < limit):
        # Heartbeats go out from librdkafka's background thread; what poll() proves is that this
        # loop still runs: go longer than max.poll.interval.ms without it and the member leaves.
        message = consumer.poll(1.0)  # a fetched record (or None); also runs rebalance callbacks
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                assigned = {tp.partition for tp in consumer.assignment()}
                if assigned and assigned <= at_end:
                    break
            continue
        seqs.append(int(message.value() or b"-1"))  # "processing" = noting the sequence number
        at_end.discard(message.partition())
    return seqs


def demo(lab: Lab) -> Seen:
    topic = lab.topic("payments", partitions=PARTITIONS)
    now = int(time.time() * 1000)
    producer = lab.producer()
    for seq in range(EARLY + LATE):
        stamp = now - 60_000 + seq if seq < EARLY else now + seq  # explicit CreateTime stamps
        producer.produce(topic, key=f"k{seq % 7}", value=str(seq).encode(), timestamp=stamp)
    producer.flush(30)
    later = list(range(EARLY, EARLY + LATE))
    lab.say(f"Produced {EARLY} records stamped a minute ago and {LATE} stamped now to {topic}.")

    group = lab.group("billing")
    settings = {"enable.auto.commit": False, "enable.partition.eof": True}
    first = lab.consumer(group, **settings)
    try:
        first.subscribe([topic])
        first_run = read(first, limit=PROCESS_FIRST)
        first.commit(asynchronous=False)  # commit AFTER processing: a crash before it re-reads
        stored = first.committed(first.assignment(), timeout=10)  # asks the group coordinator
        committed = sum(max(tp.offset, 0) for tp in stored)
    finally:
        first.close()  # leaves the group now, so the restart gets the partitions at once
    lab.say(
        f"First consumer processed {len(first_run)} records and committed; offsets sum to {committed}."
    )

    second = lab.consumer(group, **settings)
    try:
        second.subscribe([topic])
        resumed = read(second)  # starts at the committed offsets, not at auto.offset.reset
    finally:
        second.close()
    lab.say(f"The restarted consumer of the same group read {len(resumed)} more.")

    replay = lab.consumer(lab.group("replay"), **settings)
    try:
        # Replay = choose the start offset yourself. assign() skips the group and its commits.
        replay.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        from_beginning = read(replay)
        # offsets_for_times: per partition, the first offset whose timestamp is >= the one given.
        wanted = [TopicPartition(topic, p, now - 1) for p in range(PARTITIONS)]
        starts = replay.offsets_for_times(wanted, timeout=10)
        replay.assign(starts)  # -1 (no such record) starts at the end: nothing to re-read there
        from_timestamp = read(replay)
    finally:
        replay.close()
    lab.table(
        "what each read saw",
        ["read", "records", "lowest…highest seq"],
        [
            ["first run (then commit)", len(first_run), _span(first_run)],
            ["restart, same group", len(resumed), _span(resumed)],
            ["replay from beginning", len(from_beginning), _span(from_beginning)],
            ["replay from timestamp", len(from_timestamp), _span(from_timestamp)],
        ],
    )
    return Seen(EARLY + LATE, later, first_run, committed, resumed, from_beginning, from_timestamp)


def _span(seqs: list[int]) -> str:
    return f"{min(seqs)}…{max(seqs)}" if seqs else "-"
