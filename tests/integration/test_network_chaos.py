"""Network faults on the real session broker, through a real toxiproxy on its PROXIED listener.

A client bootstraps through the proxy and is told the proxy's address for the broker, so all
of its traffic stays behind the proxy. A latency toxic on the client → broker stream then
shows in the broker's own append timestamps (LogAppendTime), and a black hole makes produce
time out (message.timeout.ms) until the network heals, after which the same producer writes
again. Everything is judged by reading the topic back on the direct listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from kafkalab import clients
from kafkalab.chaos import network, toxiproxy
from kafkalab.cluster import connect
from kafkalab.connection import Connection
from kafkalab.settings import Settings
from tests import toxi

LATENCY_MS = 300
DELIVERY_TIMEOUT_MS = 3000


@pytest.fixture(scope="module")
def proxy(cluster: Settings) -> Iterator[toxiproxy.Client]:
    if cluster.external:
        pytest.skip("an external cluster has no PROXIED listener of kafkalab's")
    with toxi.running(cluster) as client:
        toxiproxy.ensure_broker_proxies(client, cluster, 1)
        yield client


def _read_back(conn: Connection, topic: str) -> list[Message]:
    """Every record of the topic, read on the direct listener with assign()."""
    consumer = clients.consumer(conn, "network-chaos-readback")
    consumer.assign([TopicPartition(topic, 0, 0)])
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    records: list[Message] = []
    deadline = time.monotonic() + 20
    while len(records) < high and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            records.append(message)
    consumer.close()
    return records


def test_a_proxied_client_is_delayed_cut_off_and_recovers(
    cluster: Settings,
    conn: Connection,
    proxy: toxiproxy.Client,
    unique: Callable[[str], str],
) -> None:
    topic = unique("network-chaos")
    admin = clients.admin(conn)
    # The broker stamps each record as it appends it: the delay is read back from Kafka itself.
    spec = NewTopic(topic, 1, 1, config={"message.timestamp.type": "LogAppendTime"})
    admin.create_topics([spec])[topic].result(timeout=30)
    proxied = connect.resolve(cluster.model_copy(update={"via_proxy": True}))
    producer = clients.producer(proxied, **{"message.timeout.ms": DELIVERY_TIMEOUT_MS})
    outcome: dict[str, KafkaError | None] = {}

    def send(value: str, sent_ms: int | None = None) -> None:
        def done(err: KafkaError | None, _msg: Message) -> None:
            outcome[value] = err

        payload = f"{value}|{sent_ms if sent_ms is not None else int(time.time() * 1000)}"
        producer.produce(topic, value=payload.encode(), on_delivery=done)
        producer.flush(30)

    # Behind the proxy after bootstrap: the metadata names the proxy's port for broker 1.
    brokers = producer.list_topics(timeout=10).brokers
    assert {b.port for b in brokers.values()} == set(cluster.proxy_ports(1))

    send("before")
    for toxic in network.toxics(network.Fault("latency", ms=LATENCY_MS, stream="upstream")):
        proxy.add_toxic("broker-1", toxic)
    for i in range(3):
        send(f"slow-{i}")
    network.heal(proxy)

    for toxic in network.toxics(network.Fault("partition")):
        proxy.add_toxic("broker-1", toxic)
    cut_at = time.monotonic()
    for i in range(2):
        send(f"cut-{i}")
    cut_for = time.monotonic() - cut_at
    network.heal(proxy)
    # The stale connection lost bytes in the hole: librdkafka notices, reconnects, writes again.
    healed_at = time.monotonic()
    send("after")
    while outcome["after"] is not None and time.monotonic() - healed_at < 40:
        send("after")
    print(
        f"partition: 2 sends failed in {cut_for:.1f} s; "
        f"a send succeeded {time.monotonic() - healed_at:.1f} s after the heal"
    )

    failed = {value: err.code() for value, err in outcome.items() if err is not None}
    assert failed == {
        "cut-0": KafkaError._MSG_TIMED_OUT,
        "cut-1": KafkaError._MSG_TIMED_OUT,
    }, f"only the sends into the black hole fail, and by timing out: {failed}"

    records = _read_back(conn, topic)
    values = [r.value().decode().split("|")[0] for r in records]
    assert values == ["before", "slow-0", "slow-1", "slow-2", "after"]
    delays = {}
    for record in records:
        value, sent = record.value().decode().split("|")
        delays[value] = record.timestamp()[1] - int(sent)
    print(f"send → append (ms, the broker's LogAppendTime): {delays}")
    # A lower bound, whatever the machine's speed: each request sat LATENCY_MS in the proxy.
    assert all(delays[f"slow-{i}"] >= LATENCY_MS for i in range(3)), delays
