"""Lesson 9's grader: seeds good, poison and flaky payments, then reads the output topic, the DLT
(records and headers) and the group's committed offsets back from the broker, each against
where the grader put every record."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, committed, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
GOOD = 12  # payments that can be paid, FLAKY of them after one timeout (lessons.toml says so too)
FLAKY = 2
POISON = 3  # one of each kind below
HEADERS = ("error.type", "error.message", "original.topic", "original.partition", "original.offset")

PAST = "the partition's end, past the poison"
AT = "the poison record's own offset: it is never done"
NONE = "none: nothing is committed while a record fails"

RETRY = (
    "retry a GatewayTimeout: sleep, call handle() again, and dead-letter it only once "
    "MAX_ATTEMPTS tries have failed"
)


def _ids(count: int) -> list[str]:
    ids: set[str] = set()
    while len(ids) < count:  # new ids every run: a hard-coded answer cannot pass
        ids.add(f"order-{secrets.token_hex(3)}")
    return sorted(ids)


def _poison(order_id: str, kind: int) -> bytes:
    """Three records no retry can fix: cut-off JSON, an Avro record on a JSON topic, and a
    negative amount."""
    if kind == 0:
        return json.dumps({"order_id": order_id, "amount_cents": 4200}).encode()[:-7]
    if kind == 1:
        return b"\x00\x00\x00\x00\x07" + secrets.token_bytes(12)  # magic byte 0, schema id 7
    return json.dumps(
        {"order_id": order_id, "amount_cents": -(secrets.randbelow(9000) + 100)}
    ).encode()


def prepare(lab: Lab) -> Task:
    source = lab.topic("payments", partitions=PARTITIONS)
    topics = {
        "payments": source,
        "paid": lab.topic("paid"),
        "payments.DLT": lab.topic("payments.DLT"),
    }
    ids = _ids(GOOD + POISON)
    good, poison = ids[:GOOD], ids[GOOD:]
    flaky = random.sample(good, FLAKY)
    records = [
        (
            key,
            json.dumps({"order_id": key, "amount_cents": secrets.randbelow(99000) + 1000}).encode(),
        )
        for key in good
    ] + [(key, _poison(key, kind)) for kind, key in enumerate(poison)]
    random.shuffle(records)
    producer = lab.producer()
    for n, (key, value) in enumerate(records):
        # Spread round-robin over the partitions, in a random order.
        producer.produce(source, key=key.encode(), value=value, partition=n % PARTITIONS)
    producer.flush(30)
    return Task(
        topics=topics,
        groups={"payments": lab.group("payments")},
        params={"flaky": flaky},
        private={"good": good, "poison": poison, "flaky": flaky},
    )


def _dlt_records(dlt: list[Record], source: dict[str, Record], task: Task) -> Check:
    name = "the poison, and only the poison, is on the DLT"
    poison, flaky = set(task.private["poison"]), set(task.private["flaky"])
    others = [r for r in dlt if r.text_key not in poison]
    good = [r for r in others if r.text_key not in flaky]
    if good:
        return Check(
            name,
            False,
            f"{len(good)} good payment(s) are on the DLT (e.g. {good[0].text_key}): only a "
            "record that failed for good belongs there",
            fix="dead-letter a record only when handling it raised InvalidPayment (or a "
            "transient error ran out of tries); one handled fine goes to OUTPUT alone",
        )
    if others:
        reason = others[0].headers.get("error.type", b"").decode(errors="replace") or "no reason"
        return Check(
            name,
            False,
            f"{len(others)} payment(s) whose first gateway call timed out are on the DLT (e.g. "
            f"{others[0].text_key}, {reason}): a timeout is transient, a second try pays it",
            fix=RETRY,
        )
    parked = Counter(r.text_key for r in dlt)
    missing = [source[k] for k in sorted(poison) if parked[k] == 0]
    if missing:
        first = missing[0]
        return Check(
            name,
            False,
            f"{len(missing)} of {len(poison)} poison records never reached the DLT (e.g. "
            f"partition {first.partition} offset {first.offset}, {(first.value or b'')[:32]!r}): "
            "dropped, they are gone — no one can look at them or replay them",
            fix="dead_letter() a record whose handling raised InvalidPayment, at once: a retry "
            "would fail the same way",
        )
    twice = [k for k, n in parked.items() if n > 1]
    if twice:
        return Check(
            name,
            False,
            f"poison record {twice[0]} is on the DLT {parked[twice[0]]} times",
            fix="dead-letter a record once, then go on to the next one",
        )
    changed = [
        r for r in dlt if (r.key, r.value) != (source[r.text_key].key, source[r.text_key].value)
    ]
    if changed:
        return Check(
            name,
            False,
            f"the dead letter of {changed[0].text_key} differs from the original record",
            fix="park the record unchanged: key=msg.key(), value=msg.value()",
        )
    return Check(name, True, f"{len(dlt)} poison records, each once and unchanged")


def _dlt_headers(dlt: list[Record], source: dict[str, Record], topic: str) -> Check:
    name = "each dead letter says why it failed and where it came from"
    for record in dlt:
        headers = {k: v.decode(errors="replace") for k, v in record.headers.items()}
        absent = [h for h in HEADERS if not headers.get(h)]
        if absent:
            return Check(
                name,
                False,
                f"the dead letter of {record.text_key} has no {', '.join(absent)} header",
                fix="add original.topic, original.partition and original.offset to its headers "
                "(msg.topic(), msg.partition(), msg.offset(), as bytes), beside error.type and "
                "error.message",
            )
        original = source[record.text_key]
        said = (
            headers["original.topic"],
            headers["original.partition"],
            headers["original.offset"],
        )
        if said != (topic, str(original.partition), str(original.offset)):
            return Check(
                name,
                False,
                f"the dead letter of {record.text_key} points at {said[0]} partition {said[1]} "
                f"offset {said[2]}, but the record is at {topic} partition "
                f"{original.partition} offset {original.offset}",
                fix="take them from the consumed message: msg.topic(), msg.partition(), "
                "msg.offset()",
            )
    return Check(
        name, True, f"all {len(dlt)} name their error and their original partition and offset"
    )


def _output(out: list[Record], task: Task, topic: str) -> Check:
    name = "every payment that can be paid is on paid, once"
    good, flaky = task.private["good"], set(task.private["flaky"])
    paid = Counter(r.text_key for r in out)
    lost = [k for k in good if paid[k] == 0 and k not in flaky]
    if lost:
        return Check(
            name,
            False,
            f"{len(lost)} of {len(good)} good payments never reached {topic} (e.g. {lost[0]})",
            fix="process() must call handle() for every record: it writes the result",
        )
    timed_out = [k for k in good if paid[k] == 0]
    if timed_out:
        return Check(
            name,
            False,
            f"{len(timed_out)} payment(s) whose first gateway call timed out never reached "
            f"{topic} (e.g. {timed_out[0]}): a second try would have paid them",
            fix=RETRY,
        )
    extra = [k for k in paid if k not in good]
    if extra:
        return Check(
            name, False, f"{extra[0]} is on {topic}, but it is not a payment that can be paid"
        )
    twice = [k for k, n in paid.items() if n > 1]
    if twice:
        return Check(
            name,
            False,
            f"{twice[0]} is on {topic} {paid[twice[0]]} times: paid more than once",
            fix="call handle() again only after it raised: a retry after a success pays twice",
        )
    return Check(name, True, f"all {len(good)} paid once, {len(flaky)} of them after a retry")


def _ends(source: dict[str, Record]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for record in source.values():
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


def _commits(done: dict[int, int], ends: dict[int, int]) -> Check:
    name = "your group committed past every record"
    behind = [p for p in sorted(ends) if done.get(p) != ends[p]]
    if behind:
        p = behind[0]
        return Check(
            name,
            False,
            f"partition {p}: committed {done.get(p, 'nothing')}, its end is {ends[p]} — a "
            "restart would handle those records again",
            fix="commit each record once it is handled and its output flushed: "
            "consumer.commit(message=msg, asynchronous=False)",
        )
    return Check(
        name, True, f"committed offsets {dict(sorted(done.items()))} = the partitions' ends"
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    topic = task.topics["payments"]
    source = {r.text_key: r for r in read_all(lab.conn, topic)}
    dlt = read_all(lab.conn, task.topics["payments.DLT"])
    out = read_all(lab.conn, task.topics["paid"])
    done = committed(lab.conn, task.groups["payments"], topic)
    ends = _ends(source)
    checks = [_dlt_records(dlt, source, task)]
    parked = [r for r in dlt if r.text_key in task.private["poison"]]
    if parked:  # nothing to judge the headers of until some poison is parked
        checks.append(_dlt_headers(parked, source, topic))
    checks += [_output(out, task, task.topics["paid"]), _commits(done, ends)]

    poison = sorted(
        (source[k] for k in task.private["poison"]), key=lambda r: (r.partition, r.offset)
    )
    where = done.get(poison[0].partition)
    truths: dict[str, Any] = {"dead": len(dlt)}
    if where is None:
        truths["committed"] = NONE
    elif where == ends[poison[0].partition]:
        truths["committed"] = PAST
    elif where == poison[0].offset:
        truths["committed"] = AT
    return Graded(checks, truths)
