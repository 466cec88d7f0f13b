"""Lesson 20's grader, on a three-broker side cluster: while the learner's producer writes, it
stops both followers of the partition (SIGSTOP: they cannot fetch), SIGKILLs the leader, lets
the followers go on and restarts the killed broker. Then it reads the topic back with its own
consumer, asks the broker which producer ids it tracks for the partition and which
min.insync.replicas the topic holds, and leaves the cluster whole (every ISR full again).

The program writes each acknowledged payment (key, offset) to a file: that is only its claim,
checked against what the broker holds, and used to time the failure (after some
acknowledgements, while the followers are stopped)."""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource

from kafkalab import processes
from kafkalab.cluster import config, lifecycle, tools
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import read_all
from kafkalab.errors import PortInUse
from kafkalab.verdict import Check

PAYMENTS = 200
PACE_S = 0.02  # ~4 s of writing: the followers stop and the leader dies while it goes on
WARM = 20  # payments acknowledged, with every replica in sync, before the followers stop
STOPPED_S = 1.5  # how long the followers stay stopped at most before the leader dies
MORE = 20  # … less if the leader has acknowledged this many more on its own

CLEAN = "a follower that was in the ISR: a clean election"
NONE = "none until the killed broker is back"
UNCLEAN = "a follower outside the ISR: an unclean election"

ACKS_FIX = (
    "set the producer's acks to all: the leader then answers only once every replica in the "
    "ISR has the record, so a follower that can take over has it too"
)


def prepare(lab: Lab) -> Task:
    payments: set[str] = set()
    while len(payments) < PAYMENTS:  # new ids every run: a hard-coded answer cannot pass
        payments.add(f"pay-{secrets.token_hex(4)}")
    handle, name = tempfile.mkstemp(prefix="kafkalab-lesson20-acked-", suffix=".txt")
    os.close(handle)
    return Task(
        topics={"payments": lab.topic_name("payments")},
        params={"payments": sorted(payments), "pace_s": PACE_S, "acked_file": name},
        private={"acked_file": name},
    )


def _claims(path: Path) -> dict[str, int]:
    """The program's claims: payment → the offset its delivery report named."""
    claims: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        key, _, offset = line.strip().partition(" ")
        if key:
            claims[key] = int(offset) if offset.lstrip("-").isdigit() else -1
    return claims


def _partition(lab: Lab, topic: str) -> tuple[int, list[int], list[int]] | None:
    """(leader, replicas, ISR) of the topic's partition 0, or None while it is unknown."""
    try:
        meta = lab.admin().list_topics(topic, timeout=5).topics.get(topic)
    except KafkaException:
        return None
    if meta is None or meta.error is not None or 0 not in meta.partitions:
        return None
    p = meta.partitions[0]
    return p.leader, sorted(p.replicas), sorted(p.isrs)


def _pids(lab: Lab) -> dict[int, int]:
    pids = {}
    for node in config.node_specs(lab.settings, 3):
        pid = processes.read_pid(node.pid_file)
        if pid is not None:
            pids[node.node_id] = pid
    return pids


def _until(condition: Any, timeout: float, program: Program | None = None) -> bool:
    """Poll until `condition()` holds (True), the deadline passes or the program ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if program is not None and not program.running():
            return bool(condition())
        time.sleep(0.1)
    return False


def whole(lab: Lab, timeout: float = 120.0) -> bool:
    """Three brokers up and every partition of every topic with its full ISR: how the next
    user of this shared cluster must find it. A node that is not running (its start failed)
    is started again."""

    def ready() -> bool:
        if len(_pids(lab)) < 3:
            _restart(lab)
        try:
            meta = lab.admin().list_topics(timeout=5)
        except KafkaException:
            return False
        return len(meta.brokers) == 3 and all(
            p.leader >= 0 and set(p.isrs) == set(p.replicas)
            for t in meta.topics.values()
            for p in t.partitions.values()
        )

    return _until(ready, timeout)


def _restart(lab: Lab, timeout: float = 60.0) -> None:
    """Start the killed node again: `lifecycle.up` starts exactly the nodes that are down. Its
    port may be held for a moment by a client socket the kernel gave it to (a port in the
    ephemeral range, as a learner's own port block may be): try again until it is free."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lifecycle.up(lab.settings)
            return
        except PortInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _fail(lab: Lab, task: Task, program: Program, seen: dict[str, Any]) -> None:
    """Drive the failure while the program writes; notes in `seen` what the grader saw."""
    topic = task.topics["payments"]
    acked = Path(task.private["acked_file"])
    warm = _until(
        lambda: (
            len(_claims(acked)) >= WARM and len((_partition(lab, topic) or (-1, [], []))[2]) == 3
        ),
        60,
        program,
    )
    before = _partition(lab, topic)
    if not warm or before is None or not program.running():
        return
    leader, _, isr = before
    pids = _pids(lab)
    followers = [n for n in pids if n != leader]
    seen |= {"leader": leader, "isr_before": isr}
    try:
        for node in followers:  # they stop fetching: from now on the leader alone has new records
            os.kill(pids[node], signal.SIGSTOP)
        start = len(_claims(acked))
        _until(lambda: len(_claims(acked)) >= start + MORE, STOPPED_S)
        seen["acked_alone"] = len(_claims(acked)) - start
        os.kill(pids[leader], signal.SIGKILL)
        seen["killed"] = leader
    finally:
        for node in followers:
            os.kill(pids[node], signal.SIGCONT)
    processes.wait_gone([pids[leader]], 15)
    killed_at = time.monotonic()
    # Back at once: the restart overlaps the controller's wait for the dead broker's session.
    _restart(lab)
    _until(lambda: (_partition(lab, topic) or (-1, [], []))[0] not in (leader, -1), 90)
    after = _partition(lab, topic)
    seen |= {"elected_s": time.monotonic() - killed_at}
    if after is not None:
        seen |= {"new_leader": after[0], "isr_after": after[2]}


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    topic = task.topics["payments"]
    acked = Path(task.private["acked_file"])
    seen: dict[str, Any] = {"killed": None}
    whole(lab)  # a broker a previous run left starting is waited for, not killed twice
    program.start()
    try:
        _fail(lab, task, program, seen)
        program.wait()
    finally:
        program.stop()
        rejoined = whole(lab)  # whatever went wrong, the next user finds three brokers
        claims = _claims(acked)
        acked.unlink(missing_ok=True)
    if seen["killed"] is None:
        return Graded(
            [
                Check(
                    "the leader died mid-run",
                    False,
                    f"{len(claims)} payment(s) acknowledged before your program ended: the grader "
                    f"waits for {WARM} before it stops the followers and kills the leader",
                    fix="leave the loop as it is: it writes every payment in PAYMENTS, PACE_S "
                    "apart, and flush()es at the end",
                )
            ]
        )
    records = read_all(lab.conn, topic)
    checks = [
        Check(
            "the leader died mid-run",
            True,
            f"broker {seen['killed']} SIGKILLed while both followers were stopped (it had "
            f"acknowledged {seen['acked_alone']} payment(s) on its own); broker "
            f"{seen.get('new_leader')} led {seen.get('elected_s', 0):.1f} s later",
        ),
        _survived(claims, records, topic),
        _once(task, claims, records, topic),
        _min_insync(lab, topic),
        _idempotent(lab, topic),
        Check(
            "the killed broker rejoined the ISR",
            rejoined,
            "every partition of the cluster has its full ISR again"
            if rejoined
            else "some partition's ISR was still short after 120 s",
        ),
    ]
    truths: dict[str, Any] = {"lost": _lost(claims, records, seen.get("acked_alone", 0))}
    if "isr_after" in seen:
        truths["isr"] = len(seen["isr_after"])
    new_leader = seen.get("new_leader", -1)
    truths["leader"] = (
        NONE if new_leader in (-1, None) else CLEAN if new_leader in seen["isr_before"] else UNCLEAN
    )
    return Graded(checks, truths)


LOST_NONE = "none"
LOST_ALONE = "every one the leader acknowledged on its own"
LOST_SOME = "some of those"


def _lost(claims: dict[str, int], records: list[Any], alone: int) -> str:
    """The break's truth: which acknowledged payments the failover took (lesson 20 --break)."""
    there = {r.text_key for r in records}
    lost = sum(1 for key in claims if key not in there)
    return LOST_NONE if lost == 0 else LOST_ALONE if lost >= alone else LOST_SOME


def _survived(claims: dict[str, int], records: list[Any], topic: str) -> Check:
    name = "every acknowledged payment survived the leader's death"
    there = {r.text_key for r in records}
    lost = sorted((k for k in claims if k not in there), key=lambda k: claims[k])
    if not claims:
        return Check(
            name,
            False,
            "your producer reported no acknowledged payment in ACKED_FILE",
            fix="keep delivered() as it is: it writes each acknowledged payment there",
        )
    if lost:
        first = lost[0]
        at = {r.offset: r.text_key for r in records}
        now = at.get(claims[first])
        where = f"at offset {claims[first]}" if claims[first] >= 0 else "with no offset (acks=0)"
        holds = f"; offset {claims[first]} now holds {now}" if now else ""
        return Check(
            name,
            False,
            f"{len(lost)} of the {len(claims)} payments your producer was told were written are "
            f"not on {topic} (e.g. {first}, acknowledged {where}{holds}): the "
            "leader acknowledged them on its own while its followers were stopped, and the "
            "follower elected in its place never had them",
            fix=ACKS_FIX,
        )
    return Check(name, True, f"all {len(claims)} acknowledged payments are on {topic}")


def _once(task: Task, claims: dict[str, int], records: list[Any], topic: str) -> Check:
    name = "every payment is on the topic, once"
    count = Counter(r.text_key for r in records)
    payments = task.params["payments"]
    missing = [k for k in payments if count[k] == 0]
    unclaimed = [k for k in missing if k not in claims]
    if unclaimed:
        return Check(
            name,
            False,
            f"{len(unclaimed)} of {len(payments)} payments never reached {topic} (e.g. "
            f"{unclaimed[0]}), and your producer was not told they were written",
            fix="let flush() wait for every delivery report, and keep the producer's retries: "
            "writes a dead leader never answered are sent again to the new one",
        )
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(payments)} payments are not on {topic}: the acknowledged "
            "ones the leader took with it",
            fix=ACKS_FIX,
        )
    twice = [k for k, n in count.items() if n > 1]
    if twice:
        return Check(
            name,
            False,
            f"{len(twice)} payment(s) are on {topic} more than once (e.g. {twice[0]}, "
            f"{count[twice[0]]} times): a write retried after the failover was stored again",
            fix="set enable.idempotence to true: the new leader then recognises a retried "
            "batch by its producer id and sequence number and does not store it twice",
        )
    return Check(name, True, f"all {len(payments)} payments, each once")


def _min_insync(lab: Lab, topic: str) -> Check:
    """The setting as the broker holds it for the topic. This run stopped both followers only
    for a moment, so the ISR stayed whole; the setting decides what a longer outage does."""
    name = "the topic keeps every acknowledged write on two brokers"
    admin = lab.admin()  # kept in a variable: its futures die with it
    futures = admin.describe_configs([ConfigResource("topic", topic)])
    value = next(iter(futures.values())).result(15)["min.insync.replicas"].value
    if value == "2":
        return Check(
            name,
            True,
            "min.insync.replicas=2: an acks=all write needs two replicas in sync, and one "
            "broker may be down without stopping writes",
        )
    if value == "1":
        return Check(
            name,
            False,
            "the topic holds min.insync.replicas=1: when the ISR shrinks to the leader alone (a "
            "follower more than replica.lag.time.max.ms behind, or on a fenced broker), the "
            "leader takes an acks=all write on its own — acks=1 in disguise. This run's "
            "followers were stopped too briefly to leave the ISR; one 30 s behind, or on a "
            "fenced broker, does",
            fix="create the topic with min.insync.replicas=2: with three replicas, writes go on "
            "while one broker is down, and each acknowledged one is on two brokers",
        )
    return Check(
        name,
        False,
        f"the topic holds min.insync.replicas={value}: with one of the three brokers down the "
        "ISR has two replicas, too few, and every acks=all write is refused with "
        "NOT_ENOUGH_REPLICAS until the broker is back",
        fix="create the topic with min.insync.replicas=2: writes go on while one broker is "
        "down, and each acknowledged one is on two brokers",
    )


def _idempotent(lab: Lab, topic: str) -> Check:
    """An idempotent producer's batches carry a producer id and sequence numbers, and the
    partition leader keeps the last sequence per producer id (`describe-producers`)."""
    name = "the broker tracks your producer's sequence numbers"
    done = tools.run_tool(
        lab.settings,
        lab.conn,
        "transactions",
        ["describe-producers", "--topic", topic, "--partition", "0"],
        capture=True,
    )
    rows = [line.split() for line in done.stdout.splitlines()[1:] if line.strip()]
    ids = [row[0] for row in rows if row and row[0].isdigit()]
    if done.returncode != 0:
        return Check(name, False, f"kafka-transactions describe-producers failed: {done.stderr}")
    if not ids:
        return Check(
            name,
            False,
            f"the leader of {topic} keeps no producer id for it: your batches carried no "
            "sequence numbers, so a batch retried after a failover may be stored twice",
            fix="set enable.idempotence to true (it needs acks=all)",
        )
    return Check(
        name,
        True,
        f"producer id {ids[0]}, last sequence {rows[0][3]}: a retried batch is recognised",
    )
