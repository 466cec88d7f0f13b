"""`kafkalab cluster up --brokers 3`: three KRaft nodes, replication factor 3, all replicas in sync."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from kafkalab import clients
from kafkalab.cluster import lifecycle
from kafkalab.errors import ClusterMismatch
from kafkalab.settings import Settings, load_settings
from tests.helpers import free_port_block

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = free_port_block(10)
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("kafkalab-three"),
        broker_port=base,
        controller_port=base + 3,
        secure_port=base + 6,
        registry_port=base + 9,
        heap="-Xms64m -Xmx384m",
    )
    lifecycle.up(settings, brokers=3)
    try:
        yield settings
    finally:
        lifecycle.down(settings)


def test_three_nodes_form_one_cluster(three: Settings) -> None:
    status = lifecycle.status(three)
    assert status.running
    assert [b.node_id for b in status.brokers if b.running] == [1, 2, 3]
    assert status.controller_id in (1, 2, 3)
    metadata = clients.admin(three).list_topics(timeout=10)
    assert sorted(metadata.brokers) == [1, 2, 3]


def test_replicated_topic_is_fully_in_sync(three: Settings, unique: Callable[[str], str]) -> None:
    topic = unique("replicated")
    admin = clients.admin(three)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(30)
    producer = clients.producer(three)  # idempotent: acks=all, so min.insync.replicas=2 applies
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


def test_asking_for_another_size_while_running_is_refused(three: Settings) -> None:
    with pytest.raises(ClusterMismatch, match="a 3-broker cluster is running"):
        lifecycle.up(three, brokers=1)


def test_registry_runs_on_the_three_node_cluster(three: Settings) -> None:
    status = lifecycle.status(three)
    assert status.registry is not None and status.registry.running
