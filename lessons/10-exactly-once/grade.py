"""Lesson 10's grader: crash the learner's processor halfway through a batch, run it again, then
read the labels back under read_committed and read_uncommitted, the group's committed offset,
and which producers wrote the labels and the offsets.

The orders topic holds orders from a plain producer and, between them, a few from an upstream
transaction that aborted: a processor reading read_uncommitted labels those too.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import (
    active_producers,
    committed,
    read_all,
    transactional_ids,
)
from kafkalab.verdict import Check

ORDERS = 20  # committed orders, half before and half after the aborted ones
ABORTED = 3  # orders of the upstream transaction that aborted
CRASH_AFTER = 8  # the first run is killed once it produced this many labels (batches of 5)
ITEMS = ("pens", "mugs", "socks", "lamps", "books", "plants")
OFFSETS_TOPIC = "__consumer_offsets"
# Where the restart begins reading (the group's committed offset at the crash): the break's
# question (`kafkalab lesson 10 --break` removes send_offsets_to_transaction).
FROM_START = "at offset 0: nothing committed the input offsets"
AFTER_BATCH = "after the last batch whose transaction committed"
WHERE_KILLED = "where the killed run stopped reading"


def _order() -> tuple[str, str]:
    """A new order every run: a hard-coded answer cannot pass."""
    key = f"o-{secrets.token_hex(3)}"
    count, item, gate = secrets.randbelow(9) + 1, secrets.choice(ITEMS), secrets.randbelow(40)
    return key, f"{key}: {count} {item} for gate {gate}"


def prepare(lab: Lab) -> Task:
    orders_topic, labels_topic = lab.topic("orders"), lab.topic("labels")
    orders = dict(_order() for _ in range(ORDERS))
    aborted = dict(_order() for _ in range(ABORTED))
    keys = list(orders)
    plain = lab.producer()
    for key in keys[: ORDERS // 2]:
        plain.produce(orders_topic, key=key, value=orders[key])
    plain.flush(30)
    # An upstream service's transaction that aborted: its orders stay in the log, marked aborted.
    upstream = lab.producer(
        **{"transactional.id": lab.group("upstream"), "transaction.timeout.ms": 10000}
    )
    upstream.init_transactions(30)
    upstream.begin_transaction()
    for key, value in aborted.items():
        upstream.produce(orders_topic, key=key, value=value)
    upstream.flush(30)
    upstream.abort_transaction(30)
    # abort_transaction() returns once the coordinator decided; the abort marker reaches the
    # partition a moment later. Wait for it, so that the orders topic ends with an order.
    _wait_for_end(lab, orders_topic, ORDERS // 2 + ABORTED + 1)
    for key in keys[ORDERS // 2 :]:
        plain.produce(orders_topic, key=key, value=orders[key])
    plain.flush(30)
    return Task(
        topics={"orders": orders_topic, "labels": labels_topic},
        groups={"labeller": lab.group("labeller")},
        params={"end_offset": _end(lab, orders_topic), "crash_after": CRASH_AFTER},
        private={"orders": orders, "aborted": aborted},
    )


def _reader(lab: Lab) -> Consumer:
    """The grader's own consumer: read_uncommitted, assign-only, commits nothing."""
    return lab.consumer(
        lab.group("grader"),
        **{"isolation.level": "read_uncommitted", "enable.auto.commit": False},
    )


def _end(lab: Lab, topic: str) -> int:
    reader = _reader(lab)
    try:
        return int(reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        reader.close()


def _wait_for_end(lab: Lab, topic: str, end: int, timeout: float = 15.0) -> None:
    reader = _reader(lab)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1] >= end:
                return
            time.sleep(0.05)
    finally:
        reader.close()


def _crash(lab: Lab, labels: str, program: Program) -> None:
    """Start the program and SIGKILL it once its crash switch put CRASH_AFTER labels in the log
    (the switch makes it wait there, mid-transaction)."""
    watcher = _reader(lab)
    watcher.assign([TopicPartition(labels, 0, 0)])
    program.start()
    seen = 0
    deadline = time.monotonic() + program.timeout
    try:
        while program.running() and seen < CRASH_AFTER and time.monotonic() < deadline:
            seen += sum(1 for m in watcher.consume(100, timeout=0.2) if not m.error())
    finally:
        watcher.close()
    if program.running():
        program.kill()
    else:
        program.wait()  # it ended before its crash switch: a crash of its own is reported here


@dataclass
class Writers:
    """Who wrote the labels, as the broker's producer state tells it (KIP-664)."""

    ids: dict[int, str]  # producer id → transactional.id of each transactional writer
    open_since: int | None  # first offset of a transaction still open on the labels
    offsets_in_txn: bool  # a transactional writer also wrote offsets, in this run


@dataclass
class Seen:
    """What the broker holds after the restart."""

    orders: dict[str, str]
    aborted: dict[str, str]
    end: int
    visible: Counter[str]  # key → labels read_committed sees
    wrong: list[str]  # keys whose label is not the order in capitals
    everything: int  # labels read_uncommitted sees
    offset: int | None  # the group's committed offset on the orders partition
    writers: Writers | None  # None: the broker could not be asked
    unknown: str = ""  # why not


def _writers(lab: Lab, labels: str) -> Writers:
    producers = active_producers(lab.conn, labels).get(0, [])
    ids = transactional_ids(lab.conn, {p.producer_id for p in producers})
    # send_offsets_to_transaction() makes the group coordinator write the offsets as the
    # transactional producer itself, so that producer shows on a __consumer_offsets partition
    # too. A fixed transactional.id keeps its producer id across runs, but each start bumps its
    # epoch: only an entry at the epoch it last wrote the labels with is from this run.
    epochs = {p.producer_id: p.epoch for p in producers if p.producer_id in ids}
    in_txn = any(
        p.producer_id in epochs and p.epoch >= epochs[p.producer_id]
        for per in active_producers(lab.conn, OFFSETS_TOPIC).values()
        for p in per
    )
    return Writers(
        ids=ids,
        open_since=min((p.open_since for p in producers if p.open_since is not None), default=None),
        offsets_in_txn=in_txn,
    )


def _look(lab: Lab, task: Task) -> Seen:
    labels, orders_topic = task.topics["labels"], task.topics["orders"]
    orders: dict[str, str] = task.private["orders"]
    aborted: dict[str, str] = task.private["aborted"]
    visible = read_all(lab.conn, labels, "read_committed")
    everything = read_all(lab.conn, labels, "read_uncommitted")
    expected = {key: value.upper() for key, value in {**orders, **aborted}.items()}
    writers, unknown = None, ""
    try:
        writers = _writers(lab, labels)
    except Exception as exc:  # kafka-python's errors: a cluster that refuses KIP-664 requests
        unknown = f"{type(exc).__name__}: {exc}"
    return Seen(
        orders=orders,
        aborted=aborted,
        end=task.params["end_offset"],
        visible=Counter(r.text_key for r in visible),
        wrong=[r.text_key for r in visible if expected.get(r.text_key) != r.text],
        everything=len(everything),
        offset=committed(lab.conn, task.groups["labeller"], orders_topic).get(0),
        writers=writers,
        unknown=unknown,
    )


def _visible(seen: Seen) -> Check:
    name = "labels reach a read_committed reader"
    count = sum(seen.visible.values())
    if count:
        return Check(name, True, f"read_committed sees {count} labels")
    if seen.everything:
        return Check(
            name,
            False,
            f"read_uncommitted sees {seen.everything} labels, read_committed none: "
            "no transaction of yours committed",
            fix="end each batch's transaction with producer.commit_transaction()",
        )
    return Check(
        name,
        False,
        "no label reached the labels topic",
        fix="does your loop produce each label to LABELS (and flush or commit)?",
    )


def _upstream(seen: Seen) -> Check:
    name = "no label for an order whose transaction aborted"
    labelled = sorted(key for key in seen.aborted if seen.visible[key])
    if not labelled:
        return Check(name, True, f"the {len(seen.aborted)} aborted orders were skipped")
    return Check(
        name,
        False,
        f"{len(labelled)} labels for orders of an upstream transaction that aborted "
        f"(e.g. {labelled[0]}): your consumer read them",
        fix='the consumer must skip aborted records: "isolation.level": "read_committed"',
    )


def _fenced(seen: Seen) -> Check | None:
    name = "the restart fenced the crashed producer"
    if seen.writers is None:
        return Check(name, None, f"could not ask the broker who wrote the labels: {seen.unknown}")
    ids = seen.writers.ids
    if not ids:
        return None  # no transactional producer: nothing to fence (the next check says why)
    if len(ids) == 1:
        (txn_id,) = ids.values()
        return Check(name, True, f'both runs wrote as transactional.id "{txn_id}"')
    names = ", ".join(f'"{t}"' for t in sorted(ids.values()))
    still = (
        f"; it is still open at offset {seen.writers.open_since}, and read_committed readers "
        "stop there until it times out"
        if seen.writers.open_since is not None
        else ": it stayed open until it timed out"
    )
    return Check(
        name,
        False,
        f"{len(ids)} transactional.ids wrote labels ({names}), so the restarted producer could "
        f"not abort the transaction the killed one left open{still}",
        fix="give the producer one fixed transactional.id, the same on every start, not a new "
        "one per run: init_transactions() then aborts what the killed instance left open",
    )


def _exactly_once(seen: Seen) -> Check:
    name = "read_committed sees each order labelled once"
    missing = [key for key in seen.orders if not seen.visible[key]]
    twice = [key for key in seen.orders if seen.visible[key] > 1]
    if not missing and not twice and not seen.wrong:
        return Check(name, True, f"{len(seen.orders)} orders, {len(seen.orders)} labels")
    parts = [f"{sum(seen.visible[k] for k in seen.orders)} labels for {len(seen.orders)} orders"]
    if twice:
        parts.append(f"{len(twice)} labelled twice or more (e.g. {twice[0]})")
    if missing:
        parts.append(f"{len(missing)} never labelled (e.g. {missing[0]})")
    if seen.wrong:
        parts.append(f"{len(seen.wrong)} labels are not the order in capitals")
    return Check(name, False, "; ".join(parts), fix=_diagnose(seen, bool(twice), bool(missing)))


def _diagnose(seen: Seen, twice: bool, missing: bool) -> str:
    """What the broker's state says went wrong, in the learner's terms."""
    transactional = seen.writers is None or bool(seen.writers.ids)
    open_since = seen.writers.open_since if seen.writers else None
    if twice and not transactional:
        lost = (
            "nothing committed the input offsets either, so the restart labelled every order "
            "from the first one again"
            if seen.offset is None
            else "the restart labelled that batch again"
        )
        return (
            "the labels are not written in transactions: what the killed run labelled stayed "
            f"visible, and {lost}. Give the producer a transactional.id, call "
            "init_transactions() once, and make each batch begin_transaction(), produce, "
            "send_offsets_to_transaction(...), commit_transaction()"
        )
    if twice and seen.offset is None:
        return (
            "nothing committed the input offsets, so the restart read the orders from the start "
            "again: send_offsets_to_transaction(consumer.position(consumer.assignment()), "
            "consumer.consumer_group_metadata()) before each commit_transaction()"
        )
    if twice:
        return (
            "the restart resumed before the end of the last committed batch: the offsets to "
            "commit are the consumer's positions (the next offset to read), sent with "
            "send_offsets_to_transaction() in the same transaction as the batch's labels"
        )
    if missing and open_since is not None:
        return (
            f"a transaction still open on the labels at offset {open_since} holds read_committed "
            "readers back: every transaction begun must be committed (or aborted), and a "
            "restart with the same transactional.id aborts what a killed run left open"
        )
    if missing:
        return (
            "the input offsets were committed before the batch's labels, so the crash lost that "
            "batch: commit offsets only inside the transaction, with "
            "send_offsets_to_transaction(), never with consumer.commit()"
        )
    return "each label must be its order's value in capitals: keep the line that makes it"


def _offsets(seen: Seen) -> Check:
    name = "the group's committed offset is the orders' end"
    if seen.offset == seen.end:
        return Check(name, True, f"committed {seen.offset} = end offset {seen.end}")
    said = "no committed offset" if seen.offset is None else f"committed {seen.offset}"
    return Check(
        name,
        False,
        f"{said}, the orders end at {seen.end}",
        fix="send the consumer's positions with send_offsets_to_transaction(...) in every "
        "transaction, before commit_transaction()",
    )


def _through_transaction(seen: Seen) -> Check | None:
    name = "the offsets were committed by the transaction"
    if seen.offset is None:
        return None  # nothing committed: the check above says so
    if seen.writers is None:
        return Check(name, None, f"could not ask the broker who wrote them: {seen.unknown}")
    if seen.writers.offsets_in_txn:
        return Check(name, True, "your transactional producer wrote the group's offsets")
    who = "your transactional producer" if seen.writers.ids else "a transaction"
    return Check(
        name,
        False,
        f"your group's offsets were committed, but not by {who}: consumer.commit() commits "
        "them on its own, so a crash between the labels' commit and the offsets' commit "
        "labels a batch twice (or, the other way round, loses it)",
        fix="replace consumer.commit() with producer.send_offsets_to_transaction("
        "consumer.position(consumer.assignment()), consumer.consumer_group_metadata()) "
        "before commit_transaction()",
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    labels = task.topics["labels"]
    _crash(lab, labels, program)
    while_open = len(read_all(lab.conn, labels, "read_committed"))
    at_crash = committed(lab.conn, task.groups["labeller"], task.topics["orders"]).get(0)
    program.run(crash_after=0)  # the restart (and a run by hand after it) does not crash
    seen = _look(lab, task)
    checks = [
        _visible(seen),
        _upstream(seen),
        _fenced(seen),
        _exactly_once(seen),
        _offsets(seen),
        _through_transaction(seen),
    ]
    truths = {
        "open": while_open,
        "uncommitted": seen.everything,
        "committed": sum(seen.visible.values()),
        "twice": sum(1 for key in seen.orders if seen.visible[key] > 1),
        # the first half of the orders sit at offsets 0.. before the aborted ones: a count of
        # committed labels up to there is also the offset after them
        "restart_from": FROM_START
        if at_crash is None
        else AFTER_BATCH
        if at_crash <= while_open
        else WHERE_KILLED,
    }
    return Graded([c for c in checks if c is not None], truths)
