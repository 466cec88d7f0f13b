"""Lesson 10: kill a transactional payment processor mid-transaction, restart it, and read its
output with read_committed and with read_uncommitted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from kafkalab.curriculum.lab import Lab
from kafkalab.settings import settings_env

from .check import Seen, repeated

ORDERS = 12
WORKER = Path(__file__).with_name("worker.py")


def demo(lab: Lab) -> Seen:
    source, target = lab.topic("reserved"), lab.topic("payments")
    orders = [f"order-{n:02d}" for n in range(ORDERS)]
    producer = lab.producer()
    for n, order in enumerate(orders):
        value = {"order_id": order, "amount_cents": 1000 + n}
        producer.produce(source, key=order.encode(), value=json.dumps(value).encode())
    producer.flush(30)
    lab.say(
        f"{ORDERS} reserved orders on {source}; the processor charges them in transactions "
        "of 4 and writes payments to {target}.".replace("{target}", target)
    )

    group, txn_id = lab.group("processor"), lab.group("processor-tx")
    lab.say("Starting the processor; it will be killed (SIGKILL) inside its second transaction.")
    killed = _processor(lab, source, target, group, txn_id, die=True)
    open_committed = _read(lab, target, "read_committed")
    open_uncommitted = _read(lab, target, "read_uncommitted")
    lab.show(
        "while the killed processor's transaction is still open",
        [
            ("exit status", f"{killed} (killed by signal {-killed})" if killed < 0 else killed),
            ("read_committed sees", f"{len(open_committed)} payments"),
            ("read_uncommitted sees", f"{len(open_uncommitted)} payments"),
        ],
    )

    lab.say(
        "Restarting it with the same transactional.id: init_transactions() fences the dead "
        "instance and aborts its open transaction; the batch is consumed again."
    )
    restarted = _processor(lab, source, target, group, txn_id, die=False)
    final_committed = _read(lab, target, "read_committed")
    final_uncommitted = _read(lab, target, "read_uncommitted")
    lab.table(
        "the payments topic at the end",
        ["isolation.level", "payments read", "orders seen twice"],
        [
            [
                "read_committed",
                len(final_committed),
                ", ".join(repeated(final_committed)) or "none",
            ],
            [
                "read_uncommitted",
                len(final_uncommitted),
                ", ".join(repeated(final_uncommitted)) or "none",
            ],
        ],
    )
    return Seen(
        orders,
        killed,
        restarted,
        open_committed,
        open_uncommitted,
        final_committed,
        final_uncommitted,
    )


def _processor(lab: Lab, source: str, target: str, group: str, txn_id: str, die: bool) -> int:
    """Run worker.py as a process of its own (so SIGKILL is real); its exit status."""
    args = [sys.executable, str(WORKER), source, target, group, txn_id, str(ORDERS)]
    done = subprocess.run(
        [*args, *(["--die"] if die else [])],
        env=settings_env(lab.settings),
        capture_output=True,
        timeout=120,
    )
    if done.returncode not in (0, -9):  # a crash of its own: show why, the check says ✘
        lab.say(f"the processor failed: {done.stderr.decode().strip()[-300:]}")
    return done.returncode


def _read(lab: Lab, topic: str, isolation: str) -> list[str]:
    """Every payment on `topic` a consumer with this isolation.level is allowed to see."""
    consumer = lab.consumer(
        lab.group(f"reader-{isolation}"),
        **{"isolation.level": isolation, "enable.partition.eof": True},
    )
    # read_committed stops at the last stable offset: the first record of a still-open
    # transaction. read_uncommitted reads to the end, aborted records included.
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen: list[str] = []
    try:
        while True:
            message = consumer.poll(15)
            if message is None:
                break
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    break
                continue
            seen.append(json.loads(message.value() or b"{}")["order_id"])
    finally:
        consumer.close()
    return seen
