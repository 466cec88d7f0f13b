"""Lesson 3: delivery reports, acks, and two Python clients producing the same 50,000 messages."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    KafkaError,
    TopicPartition,
)
from kafka import KafkaProducer  # kafka-python: the pure-Python client

from kafkalab.curriculum.lab import Lab

from .check import Run, Seen

MESSAGES = 50_000
KEYS = 100
PARTITIONS = 3
# The settings both clients get, so the race compares the clients, not their defaults.
SAME = {"acks": "all", "enable.idempotence": True, "linger.ms": 5, "batch.size": 16384}
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
TIMESTAMP_TYPES = {
    TIMESTAMP_LOG_APPEND_TIME: "LogAppendTime",
    TIMESTAMP_CREATE_TIME: "CreateTime",
    TIMESTAMP_NOT_AVAILABLE: "none",
}


def payloads() -> list[tuple[bytes, bytes]]:
    pad = "x" * 60
    return [
        (f"user-{seq % KEYS}".encode(), json.dumps({"seq": seq, "pad": pad}).encode())
        for seq in range(MESSAGES)
    ]


def report_offsets(lab: Lab, topic: str, acks: str) -> list[int | None]:
    offsets: list[int | None] = []
    # acks=0 cannot be idempotent: without an answer the producer cannot know what was written.
    producer = lab.producer(acks=acks, **{"enable.idempotence": acks == "all"})
    for n in range(3):
        # The delivery report is the broker's answer; with acks=0 there is none, so no offset.
        producer.produce(
            topic, value=b"%d" % n, on_delivery=lambda e, m: offsets.append(m.offset())
        )
    producer.flush(30)  # flush() = poll() until every report has been served
    return offsets


def with_kafka_python(lab: Lab, topic: str, messages: list[tuple[bytes, bytes]]) -> Run:
    producer = KafkaProducer(
        bootstrap_servers=lab.conn.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=SAME["linger.ms"],
        batch_size=SAME["batch.size"],
    )
    started, wall = time.monotonic(), time.time()
    futures = [producer.send(topic, key=key, value=value) for key, value in messages]
    producer.flush()  # every future now holds its delivery report (metadata or exception)
    seconds, timed = time.monotonic() - started, _window(wall)
    ok = sum(1 for f in futures if f.succeeded())
    batching = producer.metrics().get("producer-metrics", {}).get("records-per-request-avg", 0.0)
    producer.close()
    run = Run("kafka-python", len(messages), ok, len(futures) - ok, seconds, 0, 0, batching)
    run.timed_ms = timed
    return run


def with_confluent_kafka(lab: Lab, topic: str, messages: list[tuple[bytes, bytes]]) -> Run:
    stats: list[dict[str, Any]] = []  # librdkafka's statistics, JSON once a second
    producer = lab.producer(
        **SAME,
        **{"statistics.interval.ms": 1000, "stats_cb": lambda s: stats.append(json.loads(s))},
    )
    outcome = {"ok": 0, "failed": 0}

    def delivered(error: KafkaError | None, _message: object) -> None:
        outcome["failed" if error else "ok"] += 1

    started, wall = time.monotonic(), time.time()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: serve reports to make room
                producer.poll(0.1)
        producer.poll(0)  # run the delivery callbacks that are ready, without waiting
    producer.flush(60)
    seconds, timed = time.monotonic() - started, _window(wall)
    seen_before, deadline = len(stats), time.monotonic() + 5
    while len(stats) == seen_before and time.monotonic() < deadline:
        producer.poll(0.2)  # wait for statistics taken after the last delivery
    requests = (
        sum(b["req"].get("Produce", 0) for b in stats[-1]["brokers"].values()) if stats else 0
    )
    batching = len(messages) / requests if requests else 0.0
    ok, failed = outcome["ok"], outcome["failed"]
    run = Run("confluent-kafka", len(messages), ok, failed, seconds, 0, 0, batching)
    run.timed_ms = timed
    return run


def _window(started: float) -> tuple[int, int]:
    """From `started` to now on the wall clock, in ms, rounded outwards (the broker's own
    timestamps are whole milliseconds of the same clock)."""
    return int(started * 1000), math.ceil(time.time() * 1000)


def read_back(lab: Lab, topic: str, run: Run) -> None:
    consumer = lab.consumer(lab.group("reader"), **{"enable.auto.commit": False})
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(PARTITIONS)
    }
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seqs: set[int] = set()
    kinds: set[int] = set()
    appended: list[int] = []
    try:
        while run.records_on_topic < sum(ends.values()):
            batch = consumer.consume(1000, timeout=10)
            if not batch:
                break  # nothing for 10 s: the check will say what is missing
            for message in batch:
                if message.error():
                    continue
                run.records_on_topic += 1
                kind, stamp = message.timestamp()  # LogAppendTime: the broker's clock
                kinds.add(kind)
                appended.append(stamp)
                seqs.add(json.loads(message.value() or b"{}")["seq"])
                run.partition_of_key[(message.key() or b"").decode()] = message.partition()
    finally:
        consumer.close()
    run.distinct_on_topic = len(seqs)
    run.appended_ms = (min(appended), max(appended)) if appended else None
    run.timestamp_type = " + ".join(sorted(TIMESTAMP_TYPES.get(k, str(k)) for k in kinds))


def demo(lab: Lab) -> Seen:
    lab.say("Delivery reports: three records with acks=all, three with acks=0.")
    acks_all = report_offsets(lab, lab.topic("acks-all"), "all")
    acks_zero = report_offsets(lab, lab.topic("acks-zero"), "0")
    lab.table(
        "offsets in the delivery reports",
        ["acks", "offsets"],
        [["all", acks_all], ["0", acks_zero]],
    )

    messages = payloads()
    lab.show(
        "the race: the same messages, the same settings",
        [
            ("messages", f"{MESSAGES:,} ({KEYS} keys, ~{len(messages[0][1])} bytes each)"),
            *SAME.items(),
        ],
    )
    runs = []
    for name, produce in (
        ("kafka-python", with_kafka_python),
        ("confluent-kafka", with_confluent_kafka),
    ):
        # The broker stamps each record when it appends it: the read-back then says when the
        # broker really had every record, which is what the timed window must cover.
        topic = lab.topic(name, partitions=PARTITIONS, config=APPEND_TIME)
        lab.say(f"{name} → {topic}")
        run = produce(lab, topic, messages)
        read_back(lab, topic, run)  # trust the topic, not only the reports
        runs.append(run)
    lab.table(
        "kafka-python vs confluent-kafka",
        ["client", "delivered", "seconds", "msg/s", "per request", "on topic"],
        [
            [
                r.client,
                r.delivered,
                f"{r.seconds:.1f}",
                f"{r.sent / r.seconds:,.0f}",
                f"{r.per_request:,.0f}",
                r.distinct_on_topic,
            ]
            for r in runs
        ],
    )
    return Seen(MESSAGES, runs, acks_all, acks_zero)
