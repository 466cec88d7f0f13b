"""Lesson 16: per-user state in a store, its changelog topic, and recovery after a SIGKILL."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Message, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource

from kafkalab.curriculum import quix
from kafkalab.curriculum.lab import Lab, LessonSetupFailed

from .app import STATE_AT_START
from .check import Click, Seen, Session

USERS = [f"user-{n}" for n in range(1, 6)]


def demo(lab: Lab) -> Seen:
    clicks, out = lab.topic("clicks", partitions=2), lab.topic("sessions", partitions=2)
    group, state_dir = lab.group("sessions"), quix.state_dir(lab)
    log = lab.settings.data_dir / "logs" / f"lesson16-{lab.run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__).with_name("app.py")), "--bootstrap", lab.conn.bootstrap_servers,
               "--group", group, "--input", clicks, "--output", out, "--state-dir", str(state_dir)]  # fmt: skip
    producer = lab.producer()
    before = send(producer, clicks, range(0, 30))
    lab.say(f"Sent {len(before)} clicks for {len(USERS)} users; starting the app (a process).")
    first = subprocess.Popen([*command, "--idle", "60", "--deadline", "120"], stderr=log.open("a"))
    try:
        wait_committed(lab, group, clicks, timeout=90)  # offsets committed = changelog written
    finally:
        first.kill()  # SIGKILL: no shutdown, no final commit, no goodbye to the group
        first.wait(30)
    lab.say("All clicks processed and committed; the app was killed with SIGKILL.")
    shutil.rmtree(state_dir, ignore_errors=True)  # its RocksDB files are gone too
    lab.say(f"Deleted the local state dir {state_dir}.")

    changelog = f"changelog__{group}--{clicks}--default"  # quixstreams' name for the store's log
    admin = lab.admin()
    policy = admin.describe_configs([ConfigResource("topic", changelog)])
    policy_value = next(iter(policy.values())).result(timeout=30)["cleanup.policy"].value
    records = sum(high - low for low, high in watermarks(lab, changelog))
    # What a restore will read: the changelog's records, last value per (user, state key).
    stored = from_changelog(quix.read_all(lab, changelog))
    lab.show(
        "the changelog topic",
        [("name", changelog), ("cleanup.policy", policy_value), ("records", records)],
    )
    lab.table(
        "the sessions on the changelog topic (what a restore reads)",
        ["user", "views, cart"],
        [[u, str((stored[u].views, stored[u].cart_cents))] for u in sorted(stored)],
    )

    after = send(producer, clicks, range(30, 45))
    lab.say(
        f"Sent {len(after)} more clicks while it was down; restarting it on an empty state dir."
    )
    log_size = log.stat().st_size
    second = subprocess.Popen([*command, "--idle", "5", "--deadline", "120"], stderr=log.open("a"))
    try:
        second.wait(150)  # it stops itself once idle; the deadline inside bounds it too
    except subprocess.TimeoutExpired:
        second.kill()
        second.wait(30)

    outputs: dict[int, tuple[str, Session]] = {}
    records_out = quix.read_all(lab, out)
    for message in records_out:
        value = json.loads(message.value() or b"{}")
        outputs[value["seq"]] = (value["user"], Session(value["views"], value["cart_cents"]))
    lab.table(
        "sessions: before the kill → after the restart",
        ["user", "views, cart before", "views, cart now"],
        [
            [u, str(_last(outputs, before, u)), str(_last(outputs, before + after, u))]
            for u in USERS
        ],
    )
    second_log = log.read_text()[log_size:].splitlines()
    recovered = [
        line.split("RecoveryPartition ")[-1].strip('"<> ')
        for line in second_log
        if "Recovery successful" in line
    ]
    # The restarted process's own report of what it found on disk before opening its stores.
    found = [line for line in second_log if line.startswith(STATE_AT_START)]
    files_at_restart = int(found[0].split()[len(STATE_AT_START.split())]) if found else None
    lab.table(
        f"what the restarted app logged ({log})",
        ["store partition restored"],
        [[r] for r in recovered],
    )
    return Seen(
        before,
        after,
        outputs,
        len(records_out),
        first.returncode,
        files_at_restart,
        policy_value,
        records,
        recovered,
        stored,
    )


def from_changelog(records: list[Message]) -> dict[str, Session]:
    """Each user's session as the changelog holds it. quixstreams keys a changelog record by
    `<message key>|<state key>`, both as JSON (b'"user-3"|"views"'), the value is JSON too,
    and a later record of a key replaces an earlier one — which is all a restore does."""
    fields: dict[str, dict[str, int]] = {}
    for record in records:
        user, _, name = (record.key() or b"").rpartition(b"|")
        value = record.value()
        if value is not None:
            fields.setdefault(json.loads(user), {})[json.loads(name)] = json.loads(value)
    return {
        user: Session(int(f.get("views", 0)), int(f.get("cart_cents", 0)))
        for user, f in fields.items()
    }


def send(producer: Producer, topic: str, seqs: range) -> list[Click]:
    clicks = [
        Click(random.choice(USERS), seq, random.choice([0, 0, 499, 1250, 2999])) for seq in seqs
    ]
    for click in clicks:  # keyed by user: a user's clicks, and so its state, live on one partition
        producer.produce(topic, key=click.user, value=json.dumps(vars(click)).encode())
    producer.flush(30)
    return clicks


def wait_committed(lab: Lab, group: str, topic: str, timeout: float) -> None:
    ends = [high for _, high in watermarks(lab, topic)]
    consumer = lab.consumer(group)  # never subscribes: only reads the group's committed offsets
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = consumer.committed(
                [TopicPartition(topic, p) for p in range(len(ends))], timeout=10
            )
            if [tp.offset for tp in done] == ends:
                return
            time.sleep(0.5)
    finally:
        consumer.close()
    raise LessonSetupFailed(f"the app did not commit all of {topic} in {timeout:.0f} s")


def watermarks(lab: Lab, topic: str) -> list[tuple[int, int]]:
    consumer = lab.consumer(lab.group("watermarks"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in sorted(partitions)
        ]
    finally:
        consumer.close()


def _last(
    outputs: dict[int, tuple[str, Session]], clicks: list[Click], user: str
) -> tuple[int, int] | None:
    mine = [outputs[c.seq][1] for c in clicks if c.user == user and c.seq in outputs]
    return (mine[-1].views, mine[-1].cart_cents) if mine else None
