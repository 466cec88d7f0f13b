"""Lesson 4's grader: the learner's consumer is crashed halfway through a record, restarted, and
judged by what reached the broker — every record of `payments` copied to `processed` once, the
group's committed offsets at the end of each partition, and `replayed` holding exactly the
records stamped at or after the replay timestamp.

The crash is the program's own `os._exit` at the record the grader names (`crash_at`); the
restart is the same file run again with `crash_at` cleared in its spec.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

from confluent_kafka import OFFSET_END, KafkaException, TopicPartition

from kafkalab.curriculum.exercises import Graded, Program, ProgramFailed, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, committed, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
OLD = (12, 10, 18)  # per partition: records stamped about two hours ago …
NEW = (10, 10, 0)  # … and in the last minutes
OLD_ONLY = 2  # the partition with no record stamped at or after REPLAY_FROM
CRASH_AT = 25  # the first run dies halfway through the 25th record it processes
CRASH_STATUS = 86  # its exit status, to tell the simulated crash from a real one
HOUR = 3_600_000
LOST = "no record lost to the crash"
COMMITTED = "the group committed every record"
ONCE = "the restart repeated no finished record"
# the choices of the `old_only` question in lessons.toml
FIRST, END, ERROR = "its first offset, 0", "-1: none is that recent, start at the end", "an error"


def prepare(lab: Lab) -> Task:
    payments = lab.topic("payments", partitions=PARTITIONS)
    now = int(time.time() * 1000)
    replay_from = now - HOUR
    producer = lab.producer()
    for partition in range(PARTITIONS):
        stamps = [now - 2 * HOUR + i * 1000 for i in range(OLD[partition])]
        stamps += [now - 10 * 60_000 + i * 1000 for i in range(NEW[partition])]
        for stamp in stamps:  # rising per partition, as offsets_for_times() expects
            token = secrets.token_hex(4)  # new values every run: a hard-coded answer cannot pass
            producer.produce(
                payments,
                key=f"user-{secrets.randbelow(9000) + 1000}",
                value=f"payment-{token}",
                partition=partition,
                timestamp=stamp,  # explicit CreateTime
            )
    producer.flush(30)
    return Task(
        topics={
            "payments": payments,
            "processed": lab.topic("processed", partitions=PARTITIONS),
            "replayed": lab.topic("replayed", partitions=PARTITIONS),
        },
        groups={"billing": lab.group("billing"), "replay": lab.group("replay")},
        params={"replay_from": replay_from, "crash_at": CRASH_AT, "crash_status": CRASH_STATUS},
    )


def _run_crashing(program: Program) -> bool:
    """The first run; True when it died at the simulated crash, as it should."""
    program.start()
    try:
        program.wait()
    except ProgramFailed:
        if program.returncode != CRASH_STATUS:
            raise
        return True
    return False


def _restart(program: Program) -> None:
    """The same file again, with no crash this time."""
    program.run(crash_at=None)


def _where(record: Record) -> str:
    return f"{record.text} (partition {record.partition}, offset {record.offset})"


def _read_from_start(payments: list[Record], copies: list[Record], topic: str) -> Check:
    name = "the group read payments from its first record"
    if copies:
        return Check(name, True, f"{len(copies)} copies on {topic}")
    return Check(
        name,
        False,
        f"none of the {len(payments)} records reached {topic}: a group with no committed "
        "offset starts where auto.offset.reset says, and librdkafka's default, latest, is "
        "the end of each partition",
        fix='set "auto.offset.reset": "earliest" in the consumer config',
    )


def _nothing_lost(
    payments: list[Record], copied: set[str], at_crash: dict[int, int], topic: str
) -> Check:
    name = LOST
    missing = [r for r in payments if r.text not in copied]
    if not missing:
        return Check(name, True, f"all {len(payments)} records copied")
    skipped = [r for r in missing if r.offset < at_crash.get(r.partition, 0)]
    if skipped:
        return Check(
            name,
            False,
            f"{_where(skipped[0])} was committed before the crash, but its copy never reached "
            f"{topic}: the restart started after it, so it is lost",
            fix="commit after processing: produce the copy, flush() the producer, then commit",
        )
    return Check(
        name,
        False,
        f"{len(missing)} of {len(payments)} records never reached {topic} (e.g. "
        f"{_where(missing[0])})",
        fix="process every record the loop polls, and flush() the producer before the end",
    )


def _all_committed(ends: dict[int, int], seen: dict[int, int]) -> Check:
    name = COMMITTED
    if seen == ends:
        return Check(name, True, f"committed offsets {seen} = the partitions' ends")
    if not seen:
        return Check(
            name,
            False,
            "the group has no committed offset: each restart reads every record again",
            fix="commit in the loop: consumer.commit(message=message, asynchronous=False) once "
            'the record is processed (with "enable.auto.commit": False)',
        )
    return Check(
        name,
        False,
        f"committed offsets {seen}, but the partitions end at {ends}",
        fix="commit after every processed record: commit(message=…) stores its offset + 1, "
        "the next one to read",
    )


def _once(copies: list[Record], at_crash: dict[int, int], crashed: bool) -> Check:
    name = ONCE
    doubled = [text for text, n in Counter(r.text for r in copies).items() if n > 1]
    if not doubled:
        return Check(name, True, "each record copied once")
    if crashed and not at_crash:
        return Check(
            name,
            False,
            f"{len(doubled)} records were processed twice: nothing was committed before the "
            "crash, so the restart started over (auto-commit, when on, commits only every "
            "auto.commit.interval.ms, 5 s by default)",
            fix='"enable.auto.commit": False, and commit each record right after its copy is '
            "flushed",
        )
    return Check(
        name,
        False,
        f"{len(doubled)} records were processed twice (e.g. {doubled[0]}): they were finished "
        "before the crash but not yet committed",
        fix="commit each record right after its copy is flushed, synchronously "
        "(asynchronous=False), not once per batch or at the end",
    )


def _replayed(payments: list[Record], got: set[str], replay_from: int, topic: str) -> Check:
    name = "the replay read exactly the records stamped at or after REPLAY_FROM"
    want = {r.text for r in payments if r.timestamp >= replay_from}
    if got == want:
        return Check(name, True, f"{len(want)} of {len(payments)} records")
    fix = (
        "offsets_for_times([TopicPartition(topic, p, REPLAY_FROM) …]) answers, per partition, "
        "the first offset stamped at or after REPLAY_FROM: assign() those offsets"
    )
    if not got:
        return Check(name, False, f"no record reached {topic} ({len(want)} expected)", fix=fix)
    early = got - want
    if got >= {r.text for r in payments}:
        detail = f"{topic} holds all {len(payments)} records: the replay started at the beginning"
    elif early:
        detail = f"{topic} holds {len(early)} records stamped before REPLAY_FROM"
    else:
        detail = f"{topic} lacks {len(want - got)} of the {len(want)} records stamped since"
    return Check(name, False, detail, fix=fix)


def _old_only_answer(lab: Lab, topic: str, replay_from: int) -> str:
    """The grader's own offsets_for_times() for the partition that holds only older records."""
    consumer = lab.consumer(lab.group("grader"), **{"enable.auto.commit": False})
    try:
        wanted = [TopicPartition(topic, OLD_ONLY, replay_from)]
        answer = consumer.offsets_for_times(wanted, timeout=10)[0]
    except KafkaException:
        return ERROR
    finally:
        consumer.close()
    if answer.error is not None:
        return ERROR
    return END if answer.offset == OFFSET_END else FIRST


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    topics, group = task.topics, task.groups["billing"]
    payments = read_all(lab.conn, topics["payments"])
    ends: dict[int, int] = {}
    for record in payments:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)

    crashed = _run_crashing(program)
    before_restart = len(read_all(lab.conn, topics["processed"]))
    at_crash = committed(lab.conn, group, topics["payments"])
    _restart(program)

    copies = read_all(lab.conn, topics["processed"])
    replay_from: int = task.params["replay_from"]
    checks = [_read_from_start(payments, copies, topics["processed"])]
    if copies:
        checks += [
            _nothing_lost(payments, {r.text for r in copies}, at_crash, topics["processed"]),
            _all_committed(ends, committed(lab.conn, group, topics["payments"])),
            _once(copies, at_crash, crashed),
        ]
    else:  # what a crash loses or repeats shows only once records are processed
        checks += [
            Check(name, None, "not judged: the group processed no record")
            for name in (LOST, COMMITTED, ONCE)
        ]
    replayed = {r.text for r in read_all(lab.conn, topics["replayed"])}
    checks.append(_replayed(payments, replayed, replay_from, topics["replayed"]))
    truths: dict[str, Any] = {
        "restart": len(copies) - before_restart,
        "old_only": _old_only_answer(lab, topics["payments"], replay_from),
    }
    return Graded(checks, truths=truths)
