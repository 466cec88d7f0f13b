"""`kafkalab cluster up --brokers 3`: three KRaft nodes, replication factor 3, all replicas in sync."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from kafkalab import clients
from kafkalab.cluster import lifecycle
from kafkalab.errors import ClusterMismatch
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def three(three_brokers: Running) -> Running:
    """The session's three-broker cluster (tests/integration/pool.py)."""
    return three_brokers


def test_three_nodes_form_one_cluster(three: Running) -> None:
    status = lifecycle.status(three.settings)
    assert status.running
    assert [b.node_id for b in status.brokers if b.running] == [1, 2, 3]
    assert status.controller_id in (1, 2, 3)
    metadata = clients.admin(three.conn).list_topics(timeout=10)
    assert sorted(metadata.brokers) == [1, 2, 3]


def test_replicated_topic_is_fully_in_sync(three: Running, unique: Callable[[str], str]) -> None:
    topic = unique("replicated")
    admin = clients.admin(three.conn)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(30)
    producer = clients.producer(
        three.conn
    )  # idempotent: acks=all, so min.insync.replicas=2 applies
    for i in range(300):
        producer.produce(topic, key=str(i), value=str(i))
    assert producer.flush(30) == 0

    deadline = time.monotonic() + 30
    while True:
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
        in_sync = all(sorted(p.isrs) == [1, 2, 3] for p in partitions.values())
        if in_sync or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(partitions) == 3
    assert all(sorted(p.replicas) == [1, 2, 3] for p in partitions.values())
    assert in_sync, {pid: p.isrs for pid, p in partitions.items()}
    leaders = {p.leader for p in partitions.values()}
    assert leaders <= {1, 2, 3}

    configs = admin.describe_configs([ConfigResource("topic", topic)])
    for future in configs.values():
        assert future.result(10)["min.insync.replicas"].value == "2"


def test_asking_for_another_size_while_running_is_refused(three: Running) -> None:
    with pytest.raises(ClusterMismatch, match="a 3-broker cluster is running"):
        lifecycle.up(three.settings, brokers=1)


def test_registry_runs_on_the_three_node_cluster(three: Running) -> None:
    status = lifecycle.status(three.settings)
    assert status.registry is not None and status.registry.running


def test_killing_a_broker_loses_no_acknowledged_event(
    three: Running, unique: Callable[[str], str]
) -> None:
    """SIGKILL broker-2 (`kafkalab chaos kill broker-2`) while an idempotent acks=all producer
    writes: its recovery is timed per partition (new live leader, ISR without it, an acks=all
    probe), a second kill that would lose the KRaft quorum is refused, and every event the
    producer saw acknowledged is read back. Then `chaos restart` waits until the broker is back
    in every ISR, leaving the cluster whole."""
    import threading

    from kafkalab.chaos import faults, runner, watch
    from kafkalab.cluster import health
    from kafkalab.events.topics import apply_catalogue

    # The group's earlier tests restart and pause brokers: start from a whole cluster, each
    # broker back in every ISR, or the kill is (rightly) refused as leaving partitions below
    # min.insync.replicas.
    for node in (1, 2, 3):
        took, missing = health.wait_in_sync(three.conn, node, timeout=60)
        assert took is not None, f"broker-{node} is not back in the ISR of {missing[:5]}"
    topic = unique("failover")
    admin = clients.admin(three.conn)
    apply_catalogue(admin)  # the shop's topics: the partitions chaos times
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(30)
    acked: set[str] = set()
    failed: list[str] = []
    stop = threading.Event()

    def on_delivery(err, msg) -> None:  # type: ignore[no-untyped-def]
        (failed.append(str(err)) if err else acked.add(msg.value().decode()))

    def produce() -> None:
        producer = clients.producer(three.conn, **{"delivery.timeout.ms": 60_000})
        i = 0
        while not stop.is_set():
            producer.produce(topic, key=str(i % 30), value=str(i), on_delivery=on_delivery)
            producer.poll(0.002)
            i += 1
        producer.flush(60)

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        victim = faults.resolve(three.settings, "broker-2")
        # force: lesson 20's demo, run earlier on this cluster, leaves its reassignment topic
        # behind with replication factor 2, which one kill takes below min.insync.replicas=2.
        # That refusal is unit-tested (test_cluster_health.py); here the point is recovery.
        report = runner.run(three.settings, three.conn, "kill", "broker-2", force=True)
        assert report.failure is None, report.timeline
        [kill] = report.kills
        assert kill.partitions and kill.recovered, kill
        for p in kill.led:  # never "recovered" while the dead broker is named leader
            assert p.new_leader not in (2, -1, None) and p.probe_s is not None, p
        kinds = [e.kind for e in report.timeline]
        assert kinds.index("fault") < kinds.index("recovered"), report.timeline
        status = lifecycle.status(three.settings)
        assert [b.state for b in status.brokers] == ["running", "dead", "running"]
        assert status.under_replicated and status.offline == 0
        with pytest.raises(faults.KillRefused, match="KRaft controllers"):
            runner.run(three.settings, three.conn, "kill", "broker-3")
        assert lifecycle.status(three.settings).brokers[2].running  # refused: untouched
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            leaders = watch.leader_snapshot(three.conn, (topic,)).leaders
            if leaders and all(leader not in (2, -1) for leader in leaders.values()):
                break
            time.sleep(0.5)
        assert all(leader not in (2, -1) for leader in leaders.values()), leaders
        written_before = len(acked)
        deadline = time.monotonic() + 30
        while len(acked) < written_before + 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join(90)
        if sys.exc_info()[0] is not None:
            lifecycle.up(three.settings)  # a failed check still leaves the cluster whole
    assert len(acked) > written_before, "the producer kept going on the two live brokers"

    consumer = clients.consumer(three.conn, unique("audit"))
    consumer.subscribe([topic])
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while not acked <= seen and time.monotonic() < deadline:
        seen |= {m.value().decode() for m in consumer.consume(1000, timeout=0.5) if not m.error()}
    consumer.close()
    assert acked <= seen, f"{len(acked - seen)} acknowledged events lost"

    done = faults.inject(three.settings, "restart", victim)  # what `chaos restart` injects
    assert "started again; back in every ISR after" in done, done
    assert watch.leader_snapshot(three.conn, (topic,)).under_replicated == 0
    assert health.read_partitions(three.conn).under_replicated == 0  # whole for the next test
