"""Lesson 22: the reference refund service under the exercise's own fault — SIGKILL every 3 s
and a restart — on a secure cluster, as its own SCRAM user; then the broker read back with the
invariant checker's refund rule, and its alert rule tried against a poison record."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kafkalab import exercise as kit
from kafkalab.curriculum.exercises import Program
from kafkalab.curriculum.lab import Lab
from kafkalab.settings import settings_env

from . import grade
from .check import Seen

SOLUTION = Path(__file__).with_name("solution.py")


def demo(lab: Lab) -> Seen:
    lab.say("Starting a secure cluster of the lesson's own (your cluster is left alone): ~15 s.")
    with lab.side_cluster(secure=True) as side:
        return _on(lab.on(side))


def _on(lab: Lab) -> Seen:
    task = grade.prepare(lab)
    first: dict[str, str] = task.private["first"]
    owed = sorted(oid for oid, kind in first.items() if kind == "refund")
    lab.say(
        f"{len(first)} orders on {task.topics['order-events']} (the shop's OrderStatusChanged, "
        f"Avro): {len(owed)} paid and then cancelled, {grade.FIRST['unpaid']} cancelled after "
        f"their payment failed, {grade.FIRST['confirmed']} confirmed, and one poison record "
        "that is not Avro at all."
    )
    user = task.private["user"]
    lab.show(
        f"the service's own login: SCRAM user {user}, with these ACLs (nothing else)",
        [
            (f"{b.operation.name} on {b.restype.name}", b.name)
            for b in grade.service_bindings(
                user, task.topics, task.groups, task.params["transactional_id"]
            )
        ],
    )
    lab.say(
        "Starting the reference refund service (solution.py). 3 s or more into a start, while "
        f"a transaction of it holds refunds, it is SIGKILLed and started again, {grade.KILLS} "
        "times — the fault "
        "`kafkalab chaos kill SERVICE --every 3` injects. Then a second wave arrives for the "
        "last start, which runs undisturbed; its /metrics are read, then a second poison "
        "record is sent and its alert rule (ALERT_RULE) evaluated, before Ctrl-C stops it."
    )
    with tempfile.TemporaryDirectory(prefix="kafkalab-lesson22-") as folder:
        spec = Path(folder) / "spec.json"
        kit.write_spec(
            spec,
            kit.Setup(
                lesson=lab.lesson.number,
                config=lab.conn.librdkafka(),
                registry=lab.conn.registry(),
                topics=task.topics,
                groups=task.groups,
                params=task.params,
            ),
        )
        program = Program(
            SOLUTION, spec, lab.lesson, 90, quiet=True, env=settings_env(lab.settings)
        )
        try:
            graded = grade.grade(lab, task, program)
        finally:
            program.close()
    committed = int(graded.truths["committed"])
    uncommitted = sum(
        1
        for r in grade.read_all(lab.conn, task.topics["refunds"], "read_uncommitted")
        if r.text_key in first
    )
    lab.table(
        "what the broker holds (first wave)",
        ["", "orders", "refunds read_committed", "refunds read_uncommitted"],
        [
            ["paid, then cancelled", len(owed), committed, uncommitted],
            ["cancelled, never paid", grade.FIRST["unpaid"], 0, "—"],
            ["confirmed", grade.FIRST["confirmed"], 0, "—"],
        ],
    )
    lab.say(
        "read_uncommitted counts the refunds of the killed transactions too: they stay in the "
        "log behind abort markers. read_committed sees each refund once."
    )
    return Seen(
        graded=graded.checks,
        owed=len(owed),
        committed=committed,
        uncommitted=uncommitted,
    )
