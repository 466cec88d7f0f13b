"""Lesson 8: crash a consumer mid-batch, once committing before processing and once after."""

from __future__ import annotations

from confluent_kafka import Consumer, Message, TopicPartition

from kafkalab.curriculum.lab import Lab

from .check import Run, Seen, duplicated, lost

RECORDS = 20
BATCH = 5
CRASH_AT = 7  # the offset whose processing "crashes" the first life of each consumer


class Crash(Exception):
    """Stands for the process dying: nothing after it runs, nothing more is committed."""


def demo(lab: Lab) -> Seen:
    topic = lab.topic("payments")  # one partition: offsets 0..19 are one ordered log
    producer = lab.producer()  # idempotent, acks=all: each record is written exactly once
    for n in range(RECORDS):
        producer.produce(topic, key=b"k", value=str(n).encode())
    producer.flush(30)
    lab.say(f"Wrote {RECORDS} records to {topic}. Each consumer reads batches of {BATCH}.")

    runs = [
        _run(lab, topic, "at-most-once", commit_first=True),
        _run(lab, topic, "at-least-once", commit_first=False),
    ]
    lab.table(
        "after the crash and the restart",
        ["strategy", "crashed in batch", "done before crash", "lost", "processed twice"],
        [
            [
                r.strategy,
                _span(r.crash_batch),
                len(r.done_before_crash),
                lost(r, RECORDS),
                duplicated(r),
            ]
            for r in runs
        ],
    )
    return Seen(sent=RECORDS, at_most_once=runs[0], at_least_once=runs[1])


def _run(lab: Lab, topic: str, strategy: str, commit_first: bool) -> Run:
    group = lab.group(strategy)
    run = Run(strategy, processed=[], crash_batch=[], done_before_crash=[])
    lab.say(
        f"{strategy}: commit {'BEFORE' if commit_first else 'AFTER'} processing each batch; "
        f"the consumer dies while processing offset {CRASH_AT}."
    )
    for life in ("first life", "after restart"):
        # enable.auto.commit=false: offsets move only when this code says commit().
        consumer = lab.consumer(group, **{"enable.auto.commit": False})
        consumer.subscribe([topic])
        try:
            _consume(consumer, run, commit_first, crash=life == "first life")
        except Crash:
            lab.say(
                f"  {strategy}: crashed at offset {CRASH_AT} "
                f"(committed position: {_committed(consumer, topic)})."
            )
        finally:
            consumer.close()  # leaves the group; with auto commit off it commits nothing
    return run


def _consume(consumer: Consumer, run: Run, commit_first: bool, crash: bool) -> None:
    while True:
        batch: list[Message] = [m for m in consumer.consume(BATCH, timeout=10) if not m.error()]
        if not batch:
            return  # nothing for 10 s: the log is read to its end
        if commit_first:
            consumer.commit(asynchronous=False)  # at-most-once: the batch counts as done NOW
        for message in batch:
            offset = message.offset()
            if crash and offset == CRASH_AT:
                run.crash_batch = [m.offset() for m in batch]
                run.done_before_crash = [o for o in run.crash_batch if o < CRASH_AT]
                raise Crash
            run.processed.append(offset)  # "processing": charge the card, send the email…
        if not commit_first:
            consumer.commit(asynchronous=False)  # at-least-once: done first, then committed
        if batch[-1].offset() == RECORDS - 1:
            return


def _committed(consumer: Consumer, topic: str) -> int:
    return int(consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset)


def _span(offsets: list[int]) -> str:
    return f"{offsets[0]}–{offsets[-1]}" if offsets else "-"
