"""Lesson 20: three brokers, replication factor 3 — kill a partition leader under load and lose
nothing; see the dead broker kept as an Eligible Leader Replica, then move a topic's replicas
onto another broker with kafka-reassign-partitions."""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka.admin import ConfigResource, NewTopic

from kafkalab import clients
from kafkalab.chaos import faults
from kafkalab.cluster import tools
from kafkalab.connection import Connection
from kafkalab.curriculum.lab import Lab, SideCluster

from .check import Moved, Seen


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
            # Asked of broker 1 now: a broker's own settings are described by that broker.
            session = _broker_config(side.conn, "broker.session.timeout.ms")
            faults.inject(side.settings, "kill", faults.resolve(side.settings, f"broker-{victim}"))
            killed_at = time.monotonic()
            # The controller hears nothing from a SIGKILLed broker: it still lists it as leader
            # until the broker's session runs out (no heartbeat for broker.session.timeout.ms).
            leader_after_kill = _partitions(side.conn, topic)[0][0]
            _wait(
                lambda: all(
                    v[0] not in (victim, -1) for v in _partitions(side.conn, topic).values()
                ),
                60,
            )
            after = _partitions(side.conn, topic)
            lab.say(
                f"Right after the kill the metadata still named broker-{leader_after_kill} as leader. "
                f"The controller elected new leaders {time.monotonic() - killed_at:.1f} s after it: "
                f"it waits until no heartbeat came for broker.session.timeout.ms={session}."
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
            # Kafka 4.x (KIP-966): a replica that leaves the ISR while the ISR is below
            # min.insync.replicas still holds every committed record (the high watermark
            # stopped): the controller keeps it as an Eligible Leader Replica.
            elr_line, elr_down = _elr(side, strict)
            lab.say(f"kafka-topics --describe while broker-{victim} is down:\n  {elr_line}")
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
        _, elr_back = _elr(side, strict)

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
        moved = _move(lab, side)
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
            session_timeout=session,
            leader_after_kill=leader_after_kill,
            elr_while_down=elr_down,
            elr_after_rejoin=elr_back,
            moved=moved,
        )


def _broker_config(side: Connection, name: str) -> str:
    """One of broker 1's settings as it runs (`describe_configs` on the broker resource)."""
    admin = clients.admin(side)  # kept in a variable: its futures die with it
    futures = admin.describe_configs([ConfigResource("broker", "1")])
    return str(next(iter(futures.values())).result(10)[name].value)


def _elr(side: SideCluster, topic: str) -> tuple[str, list[int]]:
    """Partition 0's line of `kafka-topics --describe` and its Elr column. confluent-kafka's
    describe_topics does not carry the ELR yet; Kafka's own tool prints it (Elr, LastKnownElr)."""
    done = tools.run_tool(
        side.settings, side.conn, "topics", ["--describe", "--topic", topic], capture=True
    )
    line = next((x.strip() for x in done.stdout.splitlines() if "Partition: 0" in x), "")
    found = re.search(r"\tElr: ([\d,]*)", line)
    elr = [int(n) for n in found.group(1).split(",") if n] if found else []
    return re.sub(r"\s*\t\s*", "  ", line), elr


def _move(lab: Lab, side: SideCluster) -> Moved:
    """kafka-reassign-partitions: a topic whose replicas live on brokers 1 and 2 (as if made
    before broker 3 joined) is moved off broker 1 and onto 3 — generate a plan, execute it,
    verify it — then the new placement is read back with the AdminClient."""
    name = lab.topic_name("ledger")
    admin = clients.admin(side.conn)
    # Where each partition's replicas go, first = preferred leader: brokers 1 and 2 only.
    new = NewTopic(name, 2, replica_assignment=[[1, 2], [2, 1]])
    admin.create_topics([new])[name].result(30)
    before = {p: v[1] for p, v in _partitions(side.conn, name).items()}
    lab.say(f"{name} lives on brokers 1 and 2: {before}. Kafka never moves it by itself.")
    with tempfile.TemporaryDirectory(prefix="kafkalab-lesson20-") as folder:
        topics, plan = Path(folder) / "topics.json", Path(folder) / "plan.json"
        topics.write_text(json.dumps({"version": 1, "topics": [{"topic": name}]}))

        def reassign(*args: str) -> str:
            done = tools.run_tool(
                side.settings, side.conn, "reassign-partitions", args, capture=True
            )
            return done.stdout

        # --generate only proposes: spread the topic over brokers 2 and 3.
        proposal = reassign(
            "--generate", "--topics-to-move-json-file", str(topics), "--broker-list", "2,3"
        )
        plan.write_text(proposal.strip().splitlines()[-1])
        proposed = {
            p["partition"]: sorted(p["replicas"])
            for p in json.loads(plan.read_text())["partitions"]
        }
        lab.say(f"kafka-reassign-partitions --generate --broker-list 2,3 proposes {proposed}.")
        # --execute hands the plan to the controller: new replicas copy the log, join the ISR,
        # then the old ones are dropped.
        reassign("--execute", "--reassignment-json-file", str(plan))
        deadline = time.monotonic() + 60
        verified = ""
        while time.monotonic() < deadline:
            verified = reassign("--verify", "--reassignment-json-file", str(plan))
            if verified.count("is completed") == len(proposed):
                break
            time.sleep(1)
    # Any broker answers metadata: wait until the one asked has heard of the new placement.
    _wait(
        lambda: all(
            v[1] == proposed.get(p) and v[2] == v[1]
            for p, v in _partitions(side.conn, name).items()
        ),
        30,
    )
    after = _partitions(side.conn, name)
    lab.table(
        f"{name} after the move (AdminClient)",
        ["partition", "leader", "replicas", "in sync"],
        [[p, *v] for p, v in sorted(after.items())],
    )
    return Moved(
        before=before,
        proposed=proposed,
        verified=verified.count("is completed"),
        after={p: v[1] for p, v in after.items()},
        isr_after={p: v[2] for p, v in after.items()},
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
