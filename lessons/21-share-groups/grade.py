"""Lesson 21's grader: seeds a backlog of jobs and one poison on ONE partition, runs the
learner's workers, then reads back what the broker's share coordinator wrote for every job
(`__share_group_state`: acknowledged or archived, after how many deliveries) and the `done`
topic — never what the workers printed. (The demo reads `kafka-share-groups --describe` too; a
grader run spares that JVM: its LAG is the count of records not yet acknowledged or archived,
which the coordinator's states give.)"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections import Counter
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import ShareState, read_all, share_state
from kafkalab.verdict import Check

GOOD = 10  # jobs that can be done (lessons.toml's questions say so too)
LIMIT = 2  # deliveries the poison gets: the first and one redelivery
AGAIN = "the broker delivers it again"
LOST = "it is lost"

EARLIEST = (
    "give the group share.auto.offset.reset=earliest in GROUP_CONFIG, which is set before "
    "the first worker starts"
)
ONE_AT_A_TIME = (
    "make each worker hold one job at a time: `--command-property "
    "share.acquire.mode=record_limit --command-property max.poll.records=1` in WORKER"
)
GIVE_UP = f"give the group share.delivery.count.limit={LIMIT} in GROUP_CONFIG"


def prepare(lab: Lab) -> Task:
    jobs, done = lab.topic("jobs"), lab.topic("done")
    good = [str(uuid.uuid4()) for _ in range(GOOD)]  # new every run: nothing to hard-code
    poison_at = random.randint(2, GOOD - 3)  # with jobs before and after it
    values = [*good[:poison_at], f"job-{secrets.token_hex(4)}", *good[poison_at:]]
    # One produce batch, as a busy producer would write them: a worker that acquires whole
    # batches takes the backlog in one go.
    producer = lab.producer(**{"linger.ms": 100})
    for value in values:
        producer.produce(jobs, value=value.encode())
    producer.flush(30)
    return Task(
        topics={"jobs": jobs, "done": done},
        groups={"workers": lab.group("workers")},
        private={"good": good, "poison_at": poison_at},
    )


def _settled(lab: Lab, task: Task, offsets: int) -> ShareState:
    """The coordinator's state once every offset that was delivered has a final state (the
    last acknowledgements are written as the workers close); at once when nothing was."""
    group, topic = task.groups["workers"], task.topics["jobs"]
    state = share_state(lab.conn, group, topic)
    deadline = time.monotonic() + 5
    while state.records and time.monotonic() < deadline:
        final = [state.final(o) for o in range(offsets)]
        if all(f is not None and f.state != "available" for f in final):
            break
        time.sleep(0.5)
        state = share_state(lab.conn, group, topic)
    return state


def _started(state: ShareState, task: Task) -> Check:
    name = "the group read the backlog from its start"
    if not state.records:
        return Check(
            name,
            False,
            f"the broker wrote no delivery of the {GOOD + 1} jobs to {task.groups['workers']}: "
            "a new share group starts at the partition's end (share.auto.offset.reset=latest "
            "by default), after the backlog",
            fix=EARLIEST,
        )
    first = min(state.records)
    return Check(name, True, f"deliveries recorded from offset {first}")


def _done_once(done: Counter[str], workers: Counter[str], state: ShareState, task: Task) -> Check:
    name = "every job was done, once"
    good: list[str] = task.private["good"]
    poison_at = task.private["poison_at"]
    missing = [(n if n < poison_at else n + 1, job) for n, job in enumerate(good) if not done[job]]
    if missing:
        offset, job = missing[0]
        final = state.final(offset)
        said = f"{final.state} after {final.deliveries} deliveries" if final else "never delivered"
        lost = [o for o, _ in missing if (f := state.final(o)) and f.state == "archived"]
        return Check(
            name,
            False,
            f"{len(missing)} of {GOOD} jobs never reached done (e.g. {job} at offset {offset}: "
            f"{said})"
            + (
                ": the broker gave them up with the poison — they were in the batch a crashed "
                "worker held, and each time such a batch is handed out again every record in it "
                "counts one more delivery"
                if lost
                else ""
            ),
            fix=ONE_AT_A_TIME if lost else "let the workers run until the queue is empty",
        )
    twice = [job for job in good if done[job] > 1]
    if twice:
        return Check(
            name,
            False,
            f"{twice[0]} reached done {done[twice[0]]} times",
            fix="copy each line a worker printed once",
        )
    shares = ", ".join(f"{w} {n}" for w, n in sorted(workers.items()))
    return Check(name, True, f"all {GOOD} jobs on done, once each ({shares})")


def _given_up(state: ShareState, task: Task) -> Check:
    name = f"the broker gave the poison up after delivery {LIMIT}"
    offset = task.private["poison_at"]
    history = state.records.get(offset, [])
    final = history[-1] if history else None
    said = " → ".join(f"{d.state} ({d.deliveries})" for d in history) or "nothing"
    if final is not None and final.state == "archived" and final.deliveries == LIMIT:
        return Check(name, True, f"offset {offset}: {said}")
    if final is None or final.state == "available":
        detail = (
            f"the poison (offset {offset}) is still waiting for the group: {said} — each "
            "delivery crashed a worker, and the workers ran out of restarts"
        )
        fix = GIVE_UP
    elif final.state == "archived" and final.deliveries < LIMIT:
        detail = (
            f"the poison (offset {offset}) was rejected at its first delivery ({said}): it "
            "gets one redelivery first, in case the crash was passing"
        )
        fix = f"let the worker crash on it (no --reject…) and {GIVE_UP}"
    elif final.state == "archived":
        detail = (
            f"the poison (offset {offset}) was given up only after {final.deliveries} "
            f"deliveries ({said}), each one crashing a worker"
        )
        fix = GIVE_UP
    else:
        detail = f"the poison (offset {offset}) was {said}: acknowledged as if done"
        fix = "keep the worker's UUIDDeserializer: it is what finds the poison out"
    return Check(name, False, detail, fix=fix)


def _delivered_once(state: ShareState, task: Task) -> Check:
    name = "every job was delivered once, and acknowledged"
    poison_at = task.private["poison_at"]
    offsets = [o for o in range(GOOD + 1) if o != poison_at]
    again = [o for o in offsets if (f := state.final(o)) and f.deliveries > 1]
    if again:
        f = state.final(again[0])
        return Check(
            name,
            False,
            f"{len(again)} job(s) were delivered more than once (e.g. offset {again[0]}: "
            f"{f.state if f else '-'} at delivery {f.deliveries if f else '-'}): they were "
            "released with a crashed worker's batch",
            fix=ONE_AT_A_TIME,
        )
    open_ = [o for o in offsets if (f := state.final(o)) is None or f.state != "acknowledged"]
    if open_:
        return Check(name, False, f"offset {open_[0]} was never acknowledged", fix=ONE_AT_A_TIME)
    return Check(name, True, f"all {GOOD} acknowledged at their first delivery")


def _lag(state: ShareState) -> int:
    """Records of the backlog the group has not finished: neither acknowledged nor archived."""
    done = ("acknowledged", "archived")
    return sum(1 for o in range(GOOD + 1) if (f := state.final(o)) is None or f.state not in done)


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    state = _settled(lab, task, GOOD + 1)
    records = read_all(lab.conn, task.topics["done"])
    done = Counter(r.text_key for r in records)
    workers = Counter(r.text for r in records)
    truths: dict[str, Any] = {}
    checks = [_started(state, task)]
    if state.records:  # nothing else to judge until the group read something
        lagging = _lag(state)
        checks += [
            _done_once(done, workers, state, task),
            _given_up(state, task),
            _delivered_once(state, task),
            Check(
                "nothing left for the group",
                lagging == 0,
                f"{lagging} of {GOOD + 1} jobs not yet acknowledged or archived (the lag "
                "`kafka-share-groups --describe` shows)",
                fix="" if lagging == 0 else GIVE_UP,
            ),
        ]
        truths["lag"] = lagging
        history = state.records.get(task.private["poison_at"], [])
        if history:
            truths["deliveries"] = history[-1].deliveries
            # what the broker wrote after the first worker crashed holding the poison
            truths["crash"] = {"available": AGAIN, "archived": LOST}.get(history[0].state)
    return Graded(checks, truths)
