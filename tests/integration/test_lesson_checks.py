"""Lesson checks that must fail, fed by the broker state a wrong run leaves behind.

Each test makes that state on the session cluster (a topic stamped by the producer instead of
the broker, a table topic that is never compacted, a subject under another compatibility
level, a plaintext listener), reads it back with the lesson demo's own functions, and asserts
the lesson's check says ✘ with the right sentence. The right runs are tests/integration/
test_lessons.py; the other wrong answers are planted in tests/unit/lessons/.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.curriculum import readback
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.events.serde import EventSerde
from kafkalab.settings import Settings
from kafkalab.verdict import Check

pytestmark = pytest.mark.integration


def lab_for(cluster: Settings, number: int) -> Lab:
    """A lab whose topics and groups are named `lesson9NN.…`: the lesson's own run in
    test_lessons.py (maybe on the other worker) removes `lessonNN.…` leftovers as it starts."""
    return Lab(settings=cluster, lesson=replace(find(number), number=900 + number), quiet=True)


def judged(checks: list[Check], name: str) -> Check:
    [found] = [c for c in checks if c.name == name]
    return found


def test_lesson03_a_topic_stamped_by_the_producer_cannot_time_the_race(
    cluster: Settings,
) -> None:
    demo, check = load_module(find(3), "demo"), load_module(find(3), "check")
    lab = lab_for(cluster, 3)
    topic = lab.topic("create-time", partitions=demo.PARTITIONS)  # CreateTime, the default
    run = demo.with_confluent_kafka(lab, topic, demo.payloads()[:2000])
    demo.read_back(lab, topic, run)
    seen = check.Seen(2000, [run], [0], [None])
    result = judged(check.check(seen), "both clients measured")
    assert not result.ok
    assert "confluent-kafka: the records carry CreateTime timestamps" in result.detail


def test_lesson03_a_timer_that_missed_writes_fails(cluster: Settings) -> None:
    """The broker's append times show records it had after the timer had stopped."""
    demo, check = load_module(find(3), "demo"), load_module(find(3), "check")
    lab = lab_for(cluster, 3)
    topic = lab.topic("append-time", partitions=demo.PARTITIONS, config=demo.APPEND_TIME)
    messages = demo.payloads()[:2000]
    run = demo.with_confluent_kafka(lab, topic, messages[:1000])  # timed: the first half
    time.sleep(0.3)
    producer = lab.producer()
    for key, value in messages[1000:]:  # untimed: the second half, after the timer stopped
        producer.produce(topic, key=key, value=value)
    producer.flush(30)
    demo.read_back(lab, topic, run)
    result = judged(check.check(check.Seen(2000, [run], [0], [None])), "both clients measured")
    assert not result.ok
    assert "confluent-kafka: the broker appended records until" in result.detail
    assert "after the timer stopped (was flush() inside the timing?)" in result.detail


def test_lesson05_a_subject_under_forward_fails(cluster: Settings) -> None:
    demo, check = load_module(find(5), "demo"), load_module(find(5), "check")
    lab = lab_for(cluster, 5)
    subject = f"{lab.topic_name('customers')}-value"
    registry = clients.schema_registry(lab.conn)
    registry.set_compatibility(subject_name=subject, level="FORWARD")
    for fields in (demo.FIELDS_V1, [*demo.FIELDS_V1, demo.EMAIL]):
        registry.register_schema(subject, Schema(demo.schema(fields), "AVRO"))
    level = demo.level_over_rest(lab, subject)
    drop = registry.test_compatibility(subject, Schema(demo.schema(demo.WITHOUT_NAME), "AVRO"))
    assert (level, drop) == ("FORWARD", False)  # both legs of the check see it
    seen = check.Seen(level, [1, 2], [1, 2], True, 409, [], drop_name_compatible=drop)
    result = judged(check.check(seen), "subject judged under BACKWARD")
    assert (result.ok, result.detail) == (
        False,
        "the registry's /config says FORWARD, not BACKWARD",
    )
    seen.level = "BACKWARD"  # even with the level misreported, the registry's answer tells
    result = judged(check.check(seen), "subject judged under BACKWARD")
    assert not result.ok
    assert result.detail.startswith("the registry refused dropping `name`, which BACKWARD allows")


def test_lesson11_a_table_topic_never_compacted_fails(cluster: Settings) -> None:
    """The demo's steps on a topic with cleanup.policy=delete: the cleaner leaves it alone."""
    demo, check = load_module(find(11), "demo"), load_module(find(11), "check")
    lab = lab_for(cluster, 11)
    users = lab.topic("users", config={**demo.TABLE, "cleanup.policy": "delete"})
    serde, producer = EventSerde(lab.conn), lab.producer()
    demo.write_profiles(serde, producer, users, [*demo.PEOPLE, demo.MOVED])
    time.sleep(demo.SEGMENT_S + 0.1)
    demo.write_profiles(serde, producer, users, [demo.LATE])  # closes the segment
    old = [p for p in demo.PEOPLE if p.user_id == demo.MOVED.user_id]
    log, waited = demo.read_log(lab, serde, users, old, timeout=2.5)
    seen = check.Seen(
        {}, [], old, written=[*demo.PEOPLE, demo.MOVED, demo.LATE], log=log, waited_s=waited
    )
    result = judged(check.check(seen), "compaction kept only the last value per key")
    assert not result.ok
    assert "u-2 'Grace Hopper' at offset 1" in result.detail
    assert result.detail.startswith("still on the log after")


def test_lesson21_a_record_rejected_at_once_was_never_redelivered(cluster: Settings) -> None:
    """The demo's --reject consumer without the --release one before it: the share coordinator
    writes the record archived at its first delivery, and the check says so."""
    demo, check = load_module(find(21), "demo"), load_module(find(21), "check")
    lab = lab_for(cluster, 21)
    topic, group = lab.topic("orders"), lab.group("pickers")
    demo.configure_group(lab, group, {"share.auto.offset.reset": "earliest"})
    producer = lab.producer()
    producer.produce(topic, value=b"order-retry")
    producer.flush(30)
    one = ["--topic", topic, "--group", group, *demo.SHOW, "--max-messages", "1"]
    run = demo.kafka(lab, "console-share-consumer", *one, "--timeout-ms", "15000", "--reject")
    state = readback.share_state(lab.conn, group, topic)
    seen = check.Seen(
        partitions=1,
        sent=0,
        consumers={},
        members={},
        retry_offset=0,
        released=[],
        rejected=demo.printed(run.stdout),
        history={o: [(d.state, d.deliveries) for d in h] for o, h in state.records.items()},
    )
    result = judged(
        check.check(seen), "a released record came back, delivery count 2, then was rejected"
    )
    assert not result.ok
    assert "--reject printed [(0, 1)]" in result.detail
    assert "the share coordinator wrote [('archived', 1)]" in result.detail


def test_lesson18_a_plaintext_listener_fails(conn: Connection) -> None:
    if conn.security_protocol != "PLAINTEXT":
        pytest.skip("the session cluster is not the plaintext one kafkalab starts")
    demo, check = load_module(find(18), "demo"), load_module(find(18), "check")
    admin = clients.admin(conn)
    protocol, mechanisms = demo.listener_of(admin, conn.bootstrap_servers.split(",")[0])
    admin_scram = demo.scram_mechanisms(admin, "admin")
    assert (protocol, mechanisms, admin_scram) == ("PLAINTEXT", [], [])
    seen = _lesson18_seen(check, protocol, mechanisms, admin_scram)
    result = judged(check.check(seen), "SCRAM-SHA-512 over TLS connects")
    assert (result.ok, result.detail) == (False, "the broker's listener speaks PLAINTEXT")


def _lesson18_seen(check: Any, protocol: str, mechanisms: list[str], scram: list[str]) -> Any:
    """Everything else as a right run would have it: only the listener is judged here."""
    return check.Seen(
        listener_protocol=protocol,
        listener_mechanisms=mechanisms,
        admin_scram=scram,
        tls_issuer="kafkalab local CA",
        admin_connected=True,
        refused={},
        rogue_allowed_read=0,
        rogue_error_code=None,
        rogue_error_name="",
        rogue_read_payments=0,
        broker_log_denial="",
        card_in_record=False,
        card_on_disk=False,
        segment_bytes=0,
        sealed_value="",
        opened="",
        moved_refused=False,
        mtls_client_auth="",
        mtls_no_cert_refused="",
        cert_subject="",
        cert_allowed_read=0,
        cert_error_code=None,
        cert_read_payments=0,
        cert_broker_denial="",
    )
