"""Lesson 8's grader: each mode's job is SIGKILLed right after it charges order 7, run again to
finish, then judged by what reached its charges topic (no order twice for at-most-once, none
missing for at-least-once) and by the offsets its group committed, all read back from the
broker. Where the group's committed offset stood at the crash explains either outcome.

The break (`kafkalab lesson 8 --break`: `enable.auto.commit` on) runs the same crash, except
that the job stays stuck after charging order 7 until its group's committed offset moves past
it or LINGER passes, as a job stuck on a slow payment call would: long enough for librdkafka's
auto commit to fire in the background, which is what loses the rest of the batch."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import TopicPartition

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import committed, read_all
from kafkalab.verdict import Check

ORDERS = 20
CRASH_AFTER = 7  # mid-batch (5–9): the crash cuts a batch in two
AT_MOST_ONCE, AT_LEAST_ONCE = "at-most-once", "at-least-once"
MODES = (AT_MOST_ONCE, AT_LEAST_ONCE)
LINGER = 8.0  # break: how long the stuck job may live on (auto.commit.interval.ms is 5 s)


def prepare(lab: Lab) -> Task:
    orders = lab.topic("orders")  # one partition: the orders are offsets 0..19
    token = secrets.token_hex(3)  # new order ids every run
    producer = lab.producer()
    for n in range(ORDERS):
        amount = secrets.randbelow(9000) / 100 + 10
        producer.produce(orders, key=f"order-{token}-{n}", value=f"{amount:.2f} EUR")
    producer.flush(30)
    topics = {"orders": orders}
    topics |= {f"charges.{mode}": lab.topic(f"charges.{mode}") for mode in MODES}
    return Task(
        topics=topics,
        groups={mode: lab.group(mode) for mode in MODES},
        params={"mode": AT_MOST_ONCE, "crash_after": CRASH_AFTER},
    )


@dataclass
class Run:
    """One mode: the crash, the finishing run, and what the broker holds afterwards."""

    mode: str
    at_crash: int | None  # the group's committed offset when the job died (None: nothing yet)
    charged: Counter[int]  # order offset → how many charges reached the charges topic
    committed: int | None  # the group's committed offset once the finishing run ended
    stuck: float = 0.0  # how long the job lived on after charging order 7

    @property
    def twice(self) -> list[int]:
        return sorted(offset for offset, n in self.charged.items() if n > 1)

    @property
    def lost(self) -> list[int]:
        return sorted(set(range(ORDERS)) - set(self.charged))


def _crashed(lab: Lab, program: Program, topic: str, timeout: float = 30) -> bool:
    """Wait until the job has charged order CRASH_AFTER (it then stops there), and SIGKILL it.
    False when it ended, or never got there, first."""
    reader = lab.consumer(lab.group("grader"))  # never joins: it only asks for the end offset
    end = TopicPartition(topic, 0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and program.running():
            if reader.get_watermark_offsets(end, timeout=10, cached=False)[1] > CRASH_AFTER:
                return True
            time.sleep(0.05)
    finally:
        reader.close()
    if not program.running():
        program.wait()  # their exception, if that was it, points at their line
    return False


def _linger(lab: Lab, group: str, orders: str) -> float:
    """Break only: let the stuck job live until its group's committed offset is past order
    CRASH_AFTER (an auto commit did it) or LINGER passes; how long it lived on."""
    started = time.monotonic()
    while time.monotonic() - started < LINGER:
        at = committed(lab.conn, group, orders).get(0)
        if at is not None and at > CRASH_AFTER:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def _run(lab: Lab, task: Task, program: Program, mode: str) -> Run | None:
    topic, group = task.topics[f"charges.{mode}"], task.groups[mode]
    program.start(mode=mode, crash_after=CRASH_AFTER)
    if not _crashed(lab, program, topic):
        return None
    stuck = _linger(lab, group, task.topics["orders"]) if lab.breaking else 0.0
    program.kill()  # SIGKILL: no commit, no close(), as a crash
    at_crash = committed(lab.conn, group, task.topics["orders"]).get(0)
    program.start(mode=mode, crash_after=None)
    program.wait()
    offset = {r.text_key: r.offset for r in read_all(lab.conn, task.topics["orders"])}
    charged = Counter(offset[r.text_key] for r in read_all(lab.conn, topic) if r.text_key in offset)
    after = committed(lab.conn, group, task.topics["orders"]).get(0)
    return Run(mode, at_crash, charged, after, stuck)


def _span(offsets: list[int]) -> str:
    if not offsets:
        return "none"
    if offsets == list(range(offsets[0], offsets[-1] + 1)) and len(offsets) > 2:
        return f"{offsets[0]}–{offsets[-1]}"
    return ", ".join(str(o) for o in offsets)


def _at_crash(run: Run) -> str:
    when = f"{run.stuck:.1f} s" if run.stuck >= 0.5 else "right"
    died = f"when the job died {when} after charging order {CRASH_AFTER}, its group had"
    if run.at_crash is None:
        return f"{died} committed nothing"
    return f"{died} committed offset {run.at_crash}"


def _at_most_once(run: Run) -> Check:
    name = "at-most-once: no order charged twice"
    if run.twice:
        return Check(
            name,
            False,
            f"orders {_span(run.twice)} were charged twice: {_at_crash(run)}, so the restart "
            "read them again",
            fix="in at_most_once(), commit the batch (consumer.commit(asynchronous=False)) "
            "before the loop that charges it; an auto commit (enable.auto.commit) runs on its "
            "own timer, not before your batch",
        )
    skipped = f"the crash skipped orders {_span(run.lost)}" if run.lost else "none skipped"
    return Check(name, True, f"each order charged at most once; {skipped} ({_at_crash(run)})")


def _at_least_once(run: Run) -> Check:
    name = "at-least-once: no order lost"
    if run.lost:
        return Check(
            name,
            False,
            f"orders {_span(run.lost)} were never charged: {_at_crash(run)}, so the restart "
            "skipped them",
            fix="in at_least_once(), commit the batch only after the loop that charges it, "
            "with enable.auto.commit False: an auto commit does not wait for your loop",
        )
    again = f"the crash charged orders {_span(run.twice)} twice" if run.twice else "none twice"
    return Check(name, True, f"every order charged; {again} ({_at_crash(run)})")


def _all_committed(runs: list[Run]) -> Check:
    name = "each mode's group committed all its orders"
    behind = [run for run in runs if run.committed != ORDERS]
    if not behind:
        return Check(name, True, f"both groups at offset {ORDERS}: a restart charges nothing")
    where = "; ".join(
        f"the {run.mode} group "
        + ("committed nothing" if run.committed is None else f"is at {run.committed}")
        + f", not {ORDERS}"
        for run in behind
    )
    return Check(
        name,
        False,
        f"{where}: its next start would charge those orders again",
        fix="commit every batch with consumer.commit(asynchronous=False), in both functions",
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    runs: list[Run] = []
    for mode in MODES:
        run = _run(lab, task, program, mode)
        if run is None:
            return Graded(
                [
                    Check(
                        f"{mode}: the job was killed after charging order {CRASH_AFTER}",
                        False,
                        f"no charge for order {CRASH_AFTER} reached the {mode} charges topic "
                        "before the job ended",
                        fix="does every order of every batch go through charge()?",
                    )
                ]
            )
        runs.append(run)
    amo, alo = runs
    checks = [_at_most_once(amo), _at_least_once(alo), _all_committed(runs)]
    truths = {"lost": len(amo.lost), "twice": len(alo.twice), "auto_lost": len(alo.lost)}
    if alo.at_crash is not None:
        truths["auto_at_crash"] = alo.at_crash
    return Graded(checks, truths)
