"""`kafkalab kafka TOOL` on the session cluster: Kafka's own tool runs from the cached jars and
its effect is on the broker; every tool kafkalab lists is a class in those jars."""

from __future__ import annotations

import zipfile
from collections.abc import Callable

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import NewTopic

from kafkalab import clients
from kafkalab.cluster import provision, tools
from kafkalab.connection import Connection
from kafkalab.curriculum.readback import committed
from kafkalab.settings import Settings, settings_env
from tests.helpers import run_cli

pytestmark = pytest.mark.integration


def test_consumer_groups_reset_offsets_moves_the_group(
    cluster: Settings, conn: Connection, unique: Callable[[str], str]
) -> None:
    topic, group = unique("tools"), unique("tools-group")
    admin = clients.admin(conn)
    admin.create_topics([NewTopic(topic, num_partitions=2)])[topic].result(timeout=30)
    producer = clients.producer(conn)
    for n in range(6):
        producer.produce(topic, key=f"k{n}", value=b"v", partition=n % 2)
    producer.flush(30)
    at_end = [TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 3)]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, at_end)])[group].result(
        timeout=30
    )

    run = run_cli(
        *("kafka", "consumer-groups", "--group", group, "--topic", f"{topic}:1"),
        *("--reset-offsets", "--to-earliest", "--execute"),
        env=settings_env(cluster),
    )

    assert run.code == 0, run.stderr
    assert committed(conn, group, topic) == {0: 3, 1: 0}


def test_every_listed_tool_is_a_class_in_the_cached_jars(cluster: Settings) -> None:
    libs = provision.ensure_jars(cluster)
    classes: set[str] = set()
    for jar in libs.glob("*.jar"):
        with zipfile.ZipFile(jar) as archive:
            classes.update(archive.namelist())
    missing = [
        t.name
        for t in tools.TOOLS.values()
        if f"{t.main_class.replace('.', '/')}.class" not in classes
    ]
    assert not missing, missing
