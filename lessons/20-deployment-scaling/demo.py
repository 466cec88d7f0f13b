"""Lesson 20: three brokers, replication factor 3 — kill a partition leader under load and lose nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka.admin import ConfigResource

from kafkalab import clients
from kafkalab.chaos import faults
from kafkalab.connection import Connection
from kafkalab.curriculum.lab import Lab

from .check import Seen


def _partitions(side: Connection, topic: str) -> dict[int, tuple[int, list[int], list[int]]]:
    """Leader, replicas and ISR per partition. Asked of any broker: one that has not yet heard
    of a new topic from the controller lists it without partitions for a moment, so ask again."""
    admin = clients.admin(side)
    deadline = time.monotonic() + 15
    while True:
        meta = admin.list_topics(topic, timeout=10).topics[topic]
        if (meta.error is None and meta.partitions) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {p: (m.leader, sorted(m.replicas), sorted(m.isrs)) for p, m in meta.partitions.items()}


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.25)


def _min_insync(side: Connection, topic: str) -> str:
    """The topic's min.insync.replicas. Asked of any broker: one that has not yet heard of the
    new topic from the controller answers UNKNOWN_TOPIC_OR_PART for a moment, so ask again."""
    admin = clients.admin(side)  # kept in a variable: its futures die with it
    deadline = time.monotonic() + 15
    while True:
        config = admin.describe_configs([ConfigResource("topic", topic)])
        try:
            return str(next(iter(config.values())).result(10)["min.insync.replicas"].value)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def demo(lab: Lab) -> Seen:
    lab.say("Starting a separate 3-broker KRaft cluster for this lesson (three JVMs: ~10 s).")
    with lab.side_cluster(brokers=3) as side:
        # Replication factor 3: every partition has a leader and two followers on other brokers.
        topic = lab.topic("payments", partitions=3, replication=3, on=side)
        before = _partitions(side.conn, topic)
        lab.table(
            "partitions before",
            ["partition", "leader", "replicas", "in sync"],
            [[p, *v] for p, v in sorted(before.items())],
        )
        min_insync = _min_insync(side.conn, topic)
        # A topic that wants all three replicas in sync: with one broker down it must refuse.
        strict = lab.topic("strict", replication=3, config={"min.insync.replicas": "3"}, on=side)
        strict_min_insync = _min_insync(side.conn, strict)

        acked: list[str] = []
        errors: list[str] = []
        stop = threading.Event()

        def delivered(err: object, msg: Message) -> None:
            # Runs inside poll()/flush(): only now does the producer know the broker has it.
            (errors.append(str(err)) if err else acked.append((msg.value() or b"").decode()))

        def write() -> None:
            # acks=all + idempotence (kafkalab's default producer): a record is acknowledged only
            # once min.insync.replicas copies have it, and retries after a failover are not duplicated.
            producer = clients.producer(side.conn, **{"delivery.timeout.ms": 60_000})
            n = 0
            while not stop.is_set():
                producer.produce(topic, key=str(n % 30), value=str(n), on_delivery=delivered)
                producer.poll(0.002)
                n += 1
            producer.flush(60)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            _wait(lambda: len(acked) >= 300, 30)
            victim = before[0][0]  # the leader of partition 0
            lab.say(
                f"{len(acked)} records acknowledged. SIGKILL → broker-{victim}, the leader of partition 0."
            )
            acked_before = len(acked)
            faults.inject(side.settings, "kill", faults.resolve(side.settings, f"broker-{victim}"))
            killed_at = time.monotonic()
            _wait(
                lambda: all(
                    v[0] not in (victim, -1) for v in _partitions(side.conn, topic).values()
                ),
                60,
            )
            after = _partitions(side.conn, topic)
            lab.say(
                f"The controller elected new leaders in {time.monotonic() - killed_at:.1f} s; the producer kept writing."
            )
            lab.table(
                "partitions after the kill",
                ["partition", "leader", "replicas", "in sync"],
                [[p, *v] for p, v in sorted(after.items())],
            )
            # Two replicas in sync now: enough for payments (min.insync.replicas=2), one short
            # for the strict topic, whose leader must answer NOT_ENOUGH_REPLICAS.
            short_write = _write_once(side.conn, strict)
            short_isr = _partitions(side.conn, strict)[0][2]
            lab.say(
                f"acks=all to {strict} (min.insync.replicas={strict_min_insync}, in sync "
                f"{short_isr}): {short_write or 'accepted'}."
            )
            _wait(lambda: len(acked) >= acked_before + 300, 30)
        finally:
            stop.set()
            writer.join(90)

        lab.say(f"Restarting broker-{victim}: it rejoins as a follower and catches up.")
        faults.inject(side.settings, "restart", faults.resolve(side.settings, f"broker-{victim}"))
        _wait(lambda: all(len(v[2]) == 3 for v in _partitions(side.conn, topic).values()), 60)
        rejoined = _partitions(side.conn, topic)
        _wait(lambda: len(_partitions(side.conn, strict)[0][2]) == 3, 30)
        whole_write = _write_once(side.conn, strict)
        lab.say(f"The same write with all three in sync again: {whole_write or 'accepted'}.")

        lab.say("Reading the topic back from the beginning to look for every acknowledged record.")
        consumer = clients.consumer(side.conn, lab.group("audit"))
        consumer.subscribe([topic])
        read: list[str] = []
        deadline = time.monotonic() + 60
        try:
            while len(set(read)) < len(set(acked)) and time.monotonic() < deadline:
                read += [
                    (m.value() or b"").decode()
                    for m in consumer.consume(1000, timeout=0.5)
                    if not m.error()
                ]
        finally:
            consumer.close()
        lab.show(
            "outcome",
            [
                ("acknowledged", len(acked)),
                ("read back", len(read)),
                ("delivery errors", len(errors)),
            ],
        )
        return Seen(
            brokers=sorted(clients.admin(side.conn).list_topics(timeout=10).brokers),
            replicas={p: v[1] for p, v in before.items()},
            isr_before={p: v[2] for p, v in before.items()},
            min_insync=min_insync,
            victim=victim,
            leaders_before={p: v[0] for p, v in before.items()},
            leaders_after={p: v[0] for p, v in after.items()},
            acked_before_kill=acked_before,
            acked=acked,
            read_back=read,
            delivery_errors=errors,
            isr_after_rejoin={p: v[2] for p, v in rejoined.items()},
            strict_min_insync=strict_min_insync,
            short_isr=short_isr,
            short_write=short_write,
            whole_write=whole_write,
        )


def _write_once(side: Connection, topic: str) -> str:
    """One acks=all record with no retries, so the delivery report carries the broker's own
    answer: "" when it was written, else the error's name. A leader that moved a moment ago
    answers NOT_LEADER_OR_FOLLOWER once; that is asked again, anything else is the answer."""
    producer = clients.producer(
        side, **{"enable.idempotence": False, "retries": 0, "message.timeout.ms": 10_000}
    )
    reports: list[str] = []
    for _ in range(5):
        producer.produce(
            topic, value=b"one", on_delivery=lambda e, m: reports.append(e.name() if e else "")
        )
        producer.flush(15)
        if not reports or reports[-1] not in ("NOT_LEADER_OR_FOLLOWER", "LEADER_NOT_AVAILABLE"):
            break
        time.sleep(0.5)
    return reports[-1] if reports else "no delivery report"
