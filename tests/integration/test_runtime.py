"""The shared service runtime on the real broker: causal headers, retries, dead letters, HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from kafkalab import clients, localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde
from kafkalab.services.runtime import Retryable, Service
from kafkalab.settings import Settings
from tests.helpers import free_port
from tests.integration.services import read_raw

pytestmark = pytest.mark.integration


@pytest.fixture
def echo(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> Iterator[tuple[Service, str, str]]:
    source, sink = unique("echo-in"), unique("echo-out")
    admin = clients.admin(conn)
    for future in admin.create_topics([NewTopic(source, 2, 1), NewTopic(sink, 2, 1)]).values():
        future.result(30)

    class Echo(Service):
        name = "echo"
        subscriptions = (source,)
        backoff_seconds = 0.01
        calls: dict[str, int] = {}

        def handle(self, event: Event) -> None:
            key = str(event.value["key"])
            self.calls[key] = self.calls.get(key, 0) + 1
            if key == "flaky" and self.calls[key] < 3:
                raise Retryable("gateway hiccup")
            if key == "always-down":
                raise Retryable("gateway down")
            if key == "bug":
                raise ValueError("cannot handle this one")
            self.emit(
                sink, key, "SmokeEvent", {**event.value, "seq": event.value["seq"] + 1}, cause=event
            )

    Echo.__module__ = __name__
    service = Echo(cluster, conn, port=free_port())
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service, source, sink
    finally:
        service.stopping.set()
        thread.join(20)


def send(conn: Connection, topic: str, key: str) -> dict:
    serde = EventSerde(conn)
    value, headers = serde.envelope(
        "SmokeEvent", {"key": key, "seq": 1}, "test", trace_id="trace-1"
    )
    producer = clients.producer(conn)
    producer.produce(
        topic, key=key, value=serde.serialize(topic, "SmokeEvent", value), headers=headers
    )
    assert producer.flush(10) == 0
    return value


def test_emitted_events_carry_the_causal_chain(conn: Connection, cluster: Settings, echo) -> None:
    service, source, sink = echo
    sent = send(conn, source, "k1")
    [msg] = read_raw(conn, sink, 1)
    event = service.serde.decode(msg)
    assert event.type == "SmokeEvent"
    assert event.value["seq"] == 2 and event.value["event_id"] != sent["event_id"]
    assert event.trace_id == "trace-1"
    assert event.causation_id == sent["event_id"]
    assert event.service == "echo"


def test_transient_failure_is_retried_then_succeeds(
    conn: Connection, cluster: Settings, echo
) -> None:
    service, source, sink = echo
    send(conn, source, "flaky")
    [msg] = read_raw(conn, sink, 1)
    assert msg.key() == b"flaky"
    assert service.calls["flaky"] == 3


def test_poison_and_exhausted_retries_go_to_the_dlt_with_headers(
    conn: Connection, cluster: Settings, echo
) -> None:
    service, source, _ = echo
    producer = clients.producer(conn)
    producer.produce(source, key=b"garbage", value=b"not avro at all")
    producer.flush(10)
    send(conn, source, "always-down")
    send(conn, source, "bug")
    dead = {m.key(): dict(m.headers()) for m in read_raw(conn, "echo.DLT", 3)}
    assert set(dead) == {b"garbage", b"always-down", b"bug"}
    assert dead[b"garbage"]["error.type"] == b"UndecodableEvent"
    assert dead[b"always-down"]["attempts"] == b"3"
    assert dead[b"always-down"]["error.message"] == b"gateway down"
    assert dead[b"bug"]["error.type"] == b"ValueError"
    assert dead[b"bug"]["original.topic"] == source.encode()
    assert int(dead[b"bug"]["original.offset"]) >= 0


def test_health_and_metrics_answer(conn: Connection, cluster: Settings, echo) -> None:
    service, source, sink = echo
    send(conn, source, "k2")
    read_raw(conn, sink, 1)
    health = localhttp.get(f"http://127.0.0.1:{service.port}/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["group"] == "kafkalab-echo"
    metrics = localhttp.get(f"http://127.0.0.1:{service.port}/metrics", timeout=5).text
    assert 'kafkalab_events_consumed_total{event_type="SmokeEvent",service="echo"' in metrics
    assert "kafkalab_processing_seconds_bucket" in metrics


class CommitLostOnce:
    """The service's consumer, except that its first commit is refused the way the broker
    refuses a member the group evicted meanwhile (a replica SIGSTOPped past its session)."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self.refused = 0

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        if not self.refused:
            self.refused += 1
            raise KafkaException(KafkaError(KafkaError._ASSIGNMENT_LOST, "assignment lost"))
        return self._consumer.commit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def test_a_commit_refused_after_a_rebalance_does_not_stop_the_service(
    conn: Connection, cluster: Settings, echo
) -> None:
    service, source, sink = echo
    lost = CommitLostOnce(service.consumer)
    service.consumer = lost
    send(conn, source, "before")
    [first] = read_raw(conn, sink, 1)
    assert first.key() == b"before" and lost.refused == 1
    send(conn, source, "after")
    keys = {m.key() for m in read_raw(conn, sink, 2, timeout=30)}
    assert b"after" in keys, "the service stopped handling events after the refused commit"
    assert localhttp.get(f"http://127.0.0.1:{service.port}/health", timeout=5).status_code == 200
