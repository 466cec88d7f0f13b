"""Lesson 3's grader: the learner's topic read back record by record (all there, each once, in
order per key), and the broker's producer state for its partitions (an idempotent producer
leaves its producer id there; any other leaves none).

The prediction about a producer that ends without flush() is answered by a control run: the
grader's own producer queues the same number of records and is destroyed without flush(), and
its topic is counted.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from confluent_kafka import Producer

from kafkalab.connection import Connection
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
KEYS = 6
COUNT = 1003
"""Not 1000: the 6 keys then get 166 or 167 records each, so a partition could hold exactly
500 or 1000 of them, whole batches of 50 that all go out at once, leaving nothing queued for
a program without flush() to lose (about 1 run in 20). With 1003, no partition's count is a
multiple of 50: a partial batch always waits out linger.ms."""
QUEUE = 250  # queue.buffering.max.messages in the learner's file: a quarter of the records
BATCH, LINGER_MS = 50, 5000  # batch.num.messages and linger.ms in the learner's file


def prepare(lab: Lab) -> Task:
    keys: list[str] = []
    while len(keys) < KEYS:  # new keys every run: a hard-coded answer cannot pass
        key = f"acct-{secrets.randbelow(9000) + 1000}"
        if key not in keys:
            keys.append(key)
    return Task(
        topics={"payments": lab.topic("payments", partitions=PARTITIONS)},
        params={"keys": keys, "count": COUNT, "queue": QUEUE},
        private={"control": lab.topic("control", partitions=PARTITIONS)},
    )


def _parse(record: Record) -> tuple[str, int] | None:
    key, _, seq = record.text.rpartition(":")
    return (key, int(seq)) if key and seq.isdigit() else None


def _all_there(topic: str, expected: list[tuple[str, int]], seen: set[tuple[str, int]]) -> Check:
    name = f"all {len(expected)} records reached {topic}"
    missing = [r for r in expected if r not in seen]
    if not missing:
        return Check(name, True, f"{len(expected)} of {len(expected)}")
    first = f"{missing[0][0]}:{missing[0][1]}"
    if len(missing) == len(expected):
        return Check(
            name,
            False,
            f"none of the {len(expected)} records is on the topic: produce() only queues a "
            "record (and raises BufferError when the queue is full); a background thread sends "
            "it later, and whatever is still queued when the program ends is lost",
            fix="serve delivery reports with poll() in the loop, produce a refused record "
            "again, and flush() before the program ends",
        )
    if set(missing) <= set(expected[-QUEUE:]):
        # at most QUEUE records are queued at once, the last ones produced: missing records
        # among them are what an exit without (a long enough) flush() loses
        return Check(
            name,
            False,
            f"{len(missing)} of the last records produced (e.g. {first}) never reached the "
            "topic: they were still queued when the program ended",
            fix="flush() before the program ends, with a timeout long enough for the last "
            "delivery reports: flush(30) waits up to 30 s for them",
        )
    return Check(
        name,
        False,
        f"{len(missing)} of {len(expected)} records never reached the topic (e.g. {first}), "
        f"not only among the last {QUEUE} produced (all that a full queue holds at the end): "
        "records refused with BufferError were dropped",
        fix="when produce() raises BufferError, poll() to serve delivery reports (a record "
        "leaves the queue once its report is served), then produce the same record again",
    )


def _once(records: list[tuple[str, int]]) -> Check:
    doubled = [r for r, n in Counter(records).items() if n > 1]
    if not doubled:
        return Check("each record is on the topic once", True, f"{len(records)} records")
    key, seq = doubled[0]
    return Check(
        "each record is on the topic once",
        False,
        f"{len(doubled)} records are on the topic more than once (e.g. {key}:{seq})",
        fix="produce a record again only after produce() raised BufferError for it, and stop "
        "retrying once produce() returns (a `break` after it)",
    )


def _in_order(records: list[Record]) -> Check:
    """Per key, the sequence numbers in log order (a key stays on one partition) must rise."""
    last: dict[tuple[int, str], int] = {}
    for record in records:
        parsed = _parse(record)
        if parsed is None:
            continue
        key, seq = parsed
        before = last.get((record.partition, key), -1)
        if seq < before:
            return Check(
                "records of each key in the order produced",
                False,
                f"{key}:{seq} is after {key}:{before} on partition {record.partition}",
                fix="retry a refused record right away (poll(), then produce it again) before "
                "producing the next one: a record put aside and sent later lands behind the "
                "records of its key that came after it",
            )
        last[(record.partition, key)] = seq
    return Check("records of each key in the order produced", True, "every key in order")


def _kafka_python(conn: Connection) -> dict[str, Any]:
    """The connection as kafka-python settings (it speaks the DescribeProducers API)."""
    conf: dict[str, Any] = {
        "bootstrap_servers": conn.bootstrap_servers.split(","),
        "security_protocol": conn.security_protocol,
    }
    if conn.sasl_mechanism:
        conf |= {
            "sasl_mechanism": conn.sasl_mechanism,
            "sasl_plain_username": conn.sasl_username,
            "sasl_plain_password": conn.sasl_password,
        }
    if conn.ssl_ca_location:
        conf["ssl_cafile"] = conn.ssl_ca_location
    if conn.ssl_certificate_location:
        conf |= {
            "ssl_certfile": conn.ssl_certificate_location,
            "ssl_keyfile": conn.ssl_key_location,
            "ssl_password": conn.ssl_key_password,
        }
    return conf


def _producer_ids(conn: Connection, topic: str, partitions: set[int]) -> dict[int, set[int]]:
    """Per partition, the ids of the producers the broker keeps state for (KIP-664's
    DescribeProducers, as `kafka-transactions.sh describe-producers` asks it)."""
    from kafka import KafkaAdminClient
    from kafka.structs import TopicPartition as KafkaTopicPartition

    admin = KafkaAdminClient(**_kafka_python(conn))
    try:
        states = admin.describe_producers([KafkaTopicPartition(topic, p) for p in partitions])
    finally:
        admin.close()
    return {
        tp.partition: {p.producer_id for p in state.active_producers if p.producer_id >= 0}
        for tp, state in states.items()
    }


def _idempotent(ids: dict[int, set[int]] | None) -> Check:
    name = "the producer is idempotent (the broker holds its producer id)"
    if ids is None:
        return Check(name, None, "could not ask the broker for its producer state")
    if not ids:
        return Check(name, None, "no record reached the topic: no producer state to ask about")
    without = sorted(p for p, found in ids.items() if not found)
    if not without:
        distinct = set().union(*ids.values())
        return Check(name, True, f"producer id {', '.join(map(str, sorted(distinct)))}")
    return Check(
        name,
        False,
        f"the broker holds no producer id for partition(s) {without}: the batches came "
        "without one, so a retried batch would be written twice",
        fix='set "enable.idempotence": True in the producer config, with "acks": "all" (or '
        "acks left out: idempotence then sets it; any other acks makes Producer() fail)",
    )


def _control(lab: Lab, topic: str) -> str:
    """Queue COUNT records, then end without flush(), as a program that just exits does."""
    producer = Producer(
        {
            **lab.conn.librdkafka(),
            "batch.num.messages": BATCH,
            "linger.ms": LINGER_MS,
            # librdkafka warns "Producer terminating with N messages still in queue" on
            # destroy; that line is for the learner's run, not the grader's
            "log_level": 3,
        }
    )
    for seq in range(COUNT):
        producer.produce(topic, key=f"control-{seq % KEYS}", value=b"%d" % seq)
    del producer  # destroyed here, as at the end of a program: no flush()
    reached = len(read_all(lab.conn, topic))
    return "none" if reached == 0 else "all" if reached >= COUNT else "some"


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    topic = task.topics["payments"]
    keys: list[str] = task.params["keys"]
    expected = [(keys[seq % len(keys)], seq) for seq in range(COUNT)]
    records = read_all(lab.conn, topic)
    parsed = [p for p in map(_parse, records) if p is not None]
    written = {r.partition for r in records}
    try:
        ids: dict[int, set[int]] | None = _producer_ids(lab.conn, topic, written) if written else {}
    except Exception:  # kafka-python's own errors (an auth it cannot do, an old broker)
        ids = None
    checks = [
        _all_there(topic, expected, set(parsed)),
        _once(parsed),
        _in_order(records),
        _idempotent(ids),
    ]
    truths: dict[str, Any] = {"control": _control(lab, task.private["control"])}
    if ids is not None:
        truths["producer_ids"] = len(set().union(*ids.values())) if ids else 0
    return Graded(checks, truths=truths)
