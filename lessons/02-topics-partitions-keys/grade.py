"""Lesson 2's grader: every key's partition in the learner's two topics, read back from the
broker, against where a producer with the Java client's partitioner put the same key."""

from __future__ import annotations

import secrets

from confluent_kafka.admin import NewPartitions

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import read_all
from kafkalab.verdict import Check

PARTITIONS = 6
GROWN = 7
KEYS = 12


def prepare(lab: Lab) -> Task:
    keys: list[str] = []
    while len(keys) < KEYS:  # new keys every run: a hard-coded answer cannot pass
        key = f"user-{secrets.randbelow(9000) + 1000}"
        if key not in keys:
            keys.append(key)
    topics = {name: lab.topic(name, partitions=PARTITIONS) for name in ("computed", "hashed")}
    topics["reference"] = lab.topic("reference", partitions=PARTITIONS)
    return Task(
        topics={k: v for k, v in topics.items() if k != "reference"},
        params={"keys": keys, "partitions": PARTITIONS},
        private={"reference": topics["reference"]},
    )


def _placed(lab: Lab, topic: str) -> dict[str, set[int]]:
    """key → the partitions its records are on, as the broker holds them."""
    placed: dict[str, set[int]] = {}
    for record in read_all(lab.conn, topic):
        placed.setdefault(record.text_key, set()).add(record.partition)
    return placed


def _reference(lab: Lab, topic: str, keys: list[str]) -> dict[str, int]:
    """Where a producer with the Java client's partitioner (murmur2) puts each key."""
    producer = lab.producer(partitioner="murmur2_random")
    for key in keys:
        producer.produce(topic, key=key, value=b"reference")
    producer.flush(30)
    return {key: min(parts) for key, parts in _placed(lab, topic).items()}


def _compare(name: str, seen: dict[str, set[int]], java: dict[str, int], fix: str) -> Check:
    missing = [k for k in java if k not in seen]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(java)} keys never reached the topic (e.g. {missing[0]})",
            fix="does your program produce every key and flush() before it ends?",
        )
    split = [k for k, parts in seen.items() if len(parts) > 1]
    wrong = [k for k in java if seen[k] != {java[k]}]
    if not wrong and not split:
        return Check(name, True, f"all {len(java)} keys on the Java client's partition")
    example = wrong[0] if wrong else split[0]
    return Check(
        name,
        False,
        f"{len(wrong)} of {len(java)} keys on another partition than the Java client's: "
        f"{example} went to {sorted(seen[example])}, Java puts it on {java[example]}",
        fix=fix,
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    keys: list[str] = task.params["keys"]
    java = _reference(lab, task.private["reference"], keys)
    computed = _placed(lab, task.topics["computed"])
    hashed = _placed(lab, task.topics["hashed"])
    checks = [
        _compare(
            "partition_for() = the Java partitioner",
            computed,
            java,
            "partition_for() must compute what Java's partitioner does: hash the key's bytes, "
            "make the hash positive, then take it modulo the partition count",
        ),
        _compare(
            "the producer's own partitioner = Java's",
            hashed,
            java,
            "the producer picks partitions with its `partitioner` setting: which value hashes "
            "keys like the Java client?",
        ),
    ]
    # What a partition count change does to keys: grow the reference topic and send again.
    admin = lab.admin()
    topic = task.private["reference"]
    admin.create_partitions([NewPartitions(topic, GROWN)])[topic].result(timeout=30)
    moved_to: dict[str, int] = {}
    producer = lab.producer(partitioner="murmur2_random")
    for key in keys:
        producer.produce(topic, key=key, value=b"after")
    producer.flush(30)
    for record in read_all(lab.conn, topic):
        if record.text == "after":
            moved_to[record.text_key] = record.partition
    moved = sum(1 for k in keys if moved_to.get(k) not in (None, java.get(k)))
    empty = PARTITIONS - len(set(java.values()))
    return Graded(checks, truths={"empty": empty, "moved": moved})
