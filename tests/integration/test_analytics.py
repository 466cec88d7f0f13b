"""The quixstreams analytics app on the real broker: windows, running totals, DLT, SIGTERM."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import clients, localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde, now_ms
from kafkalab.events.topics import ANALYTICS, ORDER_EVENTS
from kafkalab.services.analytics import emit, facts
from kafkalab.services.analytics.app import AnalyticsService, AnalyticsTopics
from kafkalab.settings import Settings
from tests.helpers import free_port
from tests.integration.services import ensure_topics, publish, read_events, read_raw, wait_healthy

pytestmark = pytest.mark.integration

TOTALS = [100, 200, 400, 800, 1600]  # powers of two: no other mix of five sums to 3100
CONFIRMED = 2
COMPLETED, FAILED = 3, 1
# One SKU's on-hand levels, in order: where it starts, 2 sold, 10 restocked.
LEVELS = [(10, 0), (8, 0), (18, 0)]  # (available, reserved)
TURNOVER = 2 / ((10 + 8 + 18) / 3)  # units committed ÷ average on hand
# (channel, requested, sent): email has one request still undelivered.
DELIVERIES = [("email", 2, 1), ("sms", 1, 1)]

DELIVERY_RATE_GAUGE = "kafkalab_notification_delivery_rate"

# (metric, window, window_start); a running total has one "window" whose start is simply the
# earliest event time seen so far, so it is keyed without it.
Key = tuple[str, str, int | None]


def produce(
    conn: Connection, topic: str, key: str, record_type: str, value: dict, timestamp: int
) -> None:
    """One event as a kafkalab service would write it, with an explicit record timestamp
    (the event time the windows use)."""
    serde, producer = _writer(conn)
    full, headers = serde.envelope(record_type, value, "test")
    producer.produce(
        topic,
        key=key.encode(),
        value=serde.serialize(topic, record_type, full),
        headers=headers,
        timestamp=timestamp,
    )
    assert producer.flush(10) == 0


@functools.cache
def _writer(conn: Connection) -> tuple[EventSerde, Producer]:
    """One serde (its serializers cache their schema ids) and one producer for every event."""
    return EventSerde(conn), clients.producer(conn)


def raw_to_end(conn: Connection, topic: str) -> list[Message]:
    """Every record of `topic` up to its current end (assign + partition EOF, no group)."""
    consumer = clients.consumer(
        conn, "unused", **{"enable.partition.eof": True, "fetch.wait.max.ms": 50}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    pending, out = set(partitions), []
    try:
        while pending:
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                    continue
                out.append(msg)
    finally:
        consumer.close()
    return out


def key_of(event: Event) -> Key:
    v = event.value
    return (v["metric"], v["window"], None if v["window"] == "running" else v["window_start"])


@pytest.fixture
def own_topics(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> AnalyticsTopics:
    """Topics of this test alone, so every count in them is ours."""
    topics = AnalyticsTopics(
        unique("orders"),
        unique("payments"),
        unique("analytics"),
        unique("stock"),
        unique("notifications"),
        (unique("email"), unique("sms")),
    )
    admin = clients.admin(conn)
    names = (
        topics.orders,
        topics.payments,
        topics.output,
        topics.stock,
        topics.notifications,
        *topics.requests,
    )
    created = admin.create_topics([NewTopic(t, 3, 1) for t in names])
    for future in created.values():
        future.result(30)
    return topics


def test_windows_and_running_totals_count_exactly_what_was_sent(
    conn: Connection,
    cluster: Settings,
    own_topics: AnalyticsTopics,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    ensure_topics(conn)
    # Every event sits in one minute, so one tumbling window holds them all.
    start = now_ms() // 60_000 * 60_000
    stamp = start + 1_000
    orders = [unique("order") for _ in TOTALS]
    for i, (order_id, total) in enumerate(zip(orders, TOTALS, strict=True)):
        produce(
            conn,
            own_topics.orders,
            order_id,
            "OrderCreated",
            {
                "order_id": order_id,
                "user_id": "u",
                "items": [],
                "total_cents": total,
                "card_masked": "4242",
            },
            stamp + i,
        )
    for order_id in orders[:CONFIRMED]:
        produce(
            conn,
            own_topics.orders,
            order_id,
            "OrderStatusChanged",
            {
                "order_id": order_id,
                "user_id": "u",
                "from_status": "PAID",
                "to_status": "CONFIRMED",
                "reason": None,
            },
            stamp + 100,
        )
    produce(
        conn,
        own_topics.orders,
        orders[-1],
        "OrderStatusChanged",  # not a conversion
        {
            "order_id": orders[-1],
            "user_id": "u",
            "from_status": "CREATED",
            "to_status": "RESERVED",
            "reason": None,
        },
        stamp + 100,
    )
    for i in range(COMPLETED):
        produce(
            conn,
            own_topics.payments,
            orders[i],
            "PaymentCompleted",
            {
                "order_id": orders[i],
                "user_id": "u",
                "payment_id": f"p{i}",
                "amount_cents": TOTALS[i],
                "card_masked": "4242",
                "attempts": 1,
            },
            stamp + 200,
        )
    for i in range(COMPLETED, COMPLETED + FAILED):
        produce(
            conn,
            own_topics.payments,
            orders[i],
            "PaymentFailed",
            {
                "order_id": orders[i],
                "user_id": "u",
                "amount_cents": TOTALS[i],
                "reason": "insufficient_funds",
                "attempts": 1,
            },
            stamp + 200,
        )
    sku = unique("SKU")  # one key: one partition, so the levels are read in this order
    for i, (available, reserved) in enumerate(LEVELS):
        level = {"sku": sku, "available": available, "reserved": reserved, "updated_at": stamp}
        produce(conn, own_topics.stock, sku, "StockLevel", level, stamp + 300 + i)
    for (channel, requested, sent), channel_topic in zip(
        DELIVERIES, own_topics.requests, strict=True
    ):
        for i in range(requested):
            request = {
                "notification_id": f"{channel}-{i}",
                "order_id": orders[i],
                "user_id": "u",
                "channel": channel,
                "template": "order-confirmed",
                "recipient_masked": "***",
                "user_name": "U",
            }
            # a request is on its channel's topic; a copy on `notifications` (as records
            # written before requests were written once) must not count twice
            produce(conn, channel_topic, "u", "NotificationRequested", request, stamp + 400)
            produce(
                conn, own_topics.notifications, "u", "NotificationRequested", request, stamp + 400
            )
        for i in range(sent):
            delivered = {
                "notification_id": f"{channel}-{i}",
                "order_id": orders[i],
                "user_id": "u",
                "channel": channel,
            }
            produce(conn, own_topics.notifications, "u", "NotificationSent", delivered, stamp + 500)

    poison_key = unique("poison")
    producer = clients.producer(conn)
    producer.produce(own_topics.orders, key=poison_key.encode(), value=b"not avro")
    assert producer.flush(10) == 0

    n, revenue = len(TOTALS), sum(TOTALS)
    end = start + 60_000
    # (metric, window, window_start) → (value, count, window_end) once everything is counted.
    expected: dict[Key, tuple[float, int, int]] = {
        ("orders_count", "tumbling-60s", start): (n, n, end),
        ("revenue_cents", "tumbling-60s", start): (revenue, n, end),
        ("conversion_rate", "tumbling-60s", start): (CONFIRMED / n, n, end),
        ("payment_success_rate", "tumbling-60s", start): (
            COMPLETED / (COMPLETED + FAILED),
            COMPLETED + FAILED,
            end,
        ),
        ("orders_total", "running", None): (n, n, stamp + 100),
        ("revenue_total_cents", "running", None): (revenue, n, stamp + 100),
        ("conversion_rate", "running", None): (CONFIRMED / n, n, stamp + 100),
    }
    last_level = stamp + 300 + len(LEVELS) - 1
    expected[("inventory_turnover", "tumbling-60s", start)] = (TURNOVER, 2, end)
    expected[("inventory_turnover", "running", None)] = (TURNOVER, 2, last_level)
    for channel, requested, sent in DELIVERIES:
        metric = f"notification_delivery_rate.{channel}"
        expected[(metric, "tumbling-60s", start)] = (sent / requested, requested, end)
        expected[(metric, "running", None)] = (sent / requested, requested, stamp + 500)
    for hop in range(6):  # the six 60 s windows, 10 s apart, that contain `stamp`
        hop_start = start - 50_000 + hop * 10_000
        expected[("orders_count", "hopping-60s/10s", hop_start)] = (n, n, hop_start + 60_000)

    # The ledger (emit.LEDGER) is written when its value changes, so its last record's end is
    # the latest event time when the last order was counted: its OrderCreated at the earliest,
    # or a status change read before it.
    ledger_ends = range(stamp + n - 1, stamp + 101)

    def matches(k: Key, got: dict[str, Any]) -> bool:
        value, count, window_end = expected.get(k, (None, None, None))
        if k[0] in emit.LEDGER and k[1] == "running":
            return (got["value"], got["count"]) == (value, count) and got[
                "window_end"
            ] in ledger_ends
        return (got["value"], got["count"], got["window_end"]) == (value, count, window_end)

    def final(event: Event) -> bool:
        return matches(key_of(event), event.value)

    service = AnalyticsService(
        cluster,
        conn,
        port=free_port(),
        topics=own_topics,
        consumer_group=unique("kafkalab-analytics-test"),
    )
    service.state_dir = tmp_path / "analytics-state"
    seen: set[Key] = set()

    def first_final(event: Event) -> bool:
        if not final(event) or key_of(event) in seen:
            return False
        seen.add(key_of(event))
        return True

    exported: dict[tuple[str, ...], float] = {}

    def watch() -> None:
        """Wait (on another thread) until every expected final value was emitted, read the
        app's /metrics, then stop it."""
        try:
            read_events(conn, own_topics.output, len(expected), timeout=90, where=first_final)
            text = localhttp.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                if family.name in ("kafkalab_inventory_turnover", DELIVERY_RATE_GAUGE):
                    for sample in family.samples:
                        labels = sample.labels
                        where = (labels.get("channel", ""), labels["window"])
                        exported[(sample.name, *where)] = sample.value
        finally:
            service.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert service.run() == 0  # quixstreams wants the main thread; returns after stop()
    watcher.join(30)
    assert seen == set(expected), f"never emitted: {set(expected) - seen}"
    # The two new figures on /metrics, as their own gauges (what Prometheus and the console read).
    assert exported[("kafkalab_inventory_turnover", "", "tumbling-60s")] == pytest.approx(TURNOVER)
    assert exported[("kafkalab_inventory_turnover", "", "running")] == pytest.approx(TURNOVER)
    for channel, requested, sent in DELIVERIES:
        for window in ("running", "tumbling-60s"):
            got = exported[(DELIVERY_RATE_GAUGE, channel, window)]
            assert got == pytest.approx(sent / requested), (channel, window)

    # The app has stopped: the output topic is complete. The last record per window is its
    # answer, and no update ever went past it (nothing was counted twice).
    serde = EventSerde(conn)
    results = [serde.decode(m) for m in raw_to_end(conn, own_topics.output)]
    assert all(e.type == "AnalyticsWindow" and e.key == e.value["metric"] for e in results)
    last: dict[Key, dict[str, Any]] = {}
    for event in results:
        assert event.value["count"] <= expected.get(key_of(event), (0, n, 0))[1]
        last[key_of(event)] = event.value
    assert set(last) == set(expected)
    for k in expected:
        assert matches(k, last[k]), (k, last[k], expected[k])
    assert last[("orders_total", "running", None)]["window_start"] == stamp  # earliest event
    tumbling_counts = [
        e.value["count"] for e in results if key_of(e) == ("orders_count", "tumbling-60s", start)
    ]
    # The window is written at most once per checkpoint, its latest value then: the count
    # never goes back, ends at n, and no window was written more often than it was updated.
    assert tumbling_counts == sorted(tumbling_counts) and tumbling_counts[-1] == n
    assert len(tumbling_counts) <= n + CONFIRMED
    assert service.sink is not None and service.sink.written == len(results)
    # Re-keying to "all": every fact (7 order, 4 payment, 3 stock, 3 requests + 2 sends) went
    # through the facts topic once, in fewer records than facts (group_by: one each).
    batches = raw_to_end(conn, facts.topic_name(service.group_id))
    carried = [item for m in batches for item in json.loads(m.value())]
    assert {m.key() for m in batches} == {b"all"}
    assert len(carried) == 7 + COMPLETED + FAILED + len(LEVELS) + 3 + 2
    assert len(batches) < len(carried)

    [dead] = read_raw(conn, "analytics.DLT", 1, where=lambda m: m.key() == poison_key.encode())
    assert dead.value() == b"not avro"
    assert dict(dead.headers())["original.topic"] == own_topics.orders.encode()


def test_a_group_of_the_earlier_pipeline_is_rewound_once(
    conn: Connection, own_topics: AnalyticsTopics, unique: Callable[[str], str]
) -> None:
    """An upgrade: the group committed input offsets under the group_by pipeline and has no
    facts topic, so its first run of the batched pipeline recounts every input from the start."""
    group = unique("kafkalab-analytics-upgrade")
    producer = clients.producer(conn)
    for i in range(6):
        producer.produce(own_topics.orders, key=f"o{i}".encode(), value=b"x")
    assert producer.flush(10) == 0
    inputs = (own_topics.orders, own_topics.payments)
    assert facts.rewind_for_new_pipeline(conn, group, inputs) == 0  # a new group: nothing to do

    consumer = clients.consumer(conn, group, **{"enable.auto.commit": False})
    ends = [
        TopicPartition(own_topics.orders, p, consumer.get_watermark_offsets(tp, 10)[1])
        for p in range(3)
        for tp in [TopicPartition(own_topics.orders, p)]
    ]
    consumer.commit(offsets=ends, asynchronous=False)
    assert facts.rewind_for_new_pipeline(conn, group, inputs) == 6  # both topics' partitions
    after = consumer.committed([TopicPartition(own_topics.orders, p) for p in range(3)], 10)
    assert [tp.offset for tp in after] == [0, 0, 0]

    consumer.commit(offsets=ends, asynchronous=False)
    made, admin = facts.topic_name(group), clients.admin(conn)  # held: its futures need it
    admin.create_topics([NewTopic(made, 1, 1)])[made].result(30)
    assert facts.rewind_for_new_pipeline(conn, group, inputs) == 0  # the new pipeline ran: kept
    kept = consumer.committed([TopicPartition(own_topics.orders, p) for p in range(3)], 10)
    assert [tp.offset for tp in kept] == [tp.offset for tp in ends]
    consumer.close()


@pytest.fixture
def analytics_process(
    conn: Connection, cluster: Settings, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen, int]]:
    """`python -m kafkalab.services.analytics` as the supervisor starts it."""
    ensure_topics(conn)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}
    env.update(
        KAFKALAB_BOOTSTRAP=conn.bootstrap_servers,
        KAFKALAB_REGISTRY_URL=conn.registry_url,
        KAFKALAB_DATA_DIR=str(tmp_path),
        KAFKALAB_LISTEN_PORT=str(port),
    )
    log = (tmp_path / "analytics.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkalab.services.analytics"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_module_runs_on_the_platform_topics_and_stops_cleanly_on_sigterm(
    conn: Connection,
    cluster: Settings,
    analytics_process: tuple[subprocess.Popen, int],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    proc, port = analytics_process
    wait_healthy(port, timeout=60)
    order_id = unique("order")
    sent_at = now_ms()
    publish(
        conn,
        ORDER_EVENTS,
        order_id,
        "OrderCreated",
        {
            "order_id": order_id,
            "user_id": "u",
            "items": [],
            "total_cents": 123,
            "card_masked": "4242",
        },
        service="order",
    )

    [window] = read_events(
        conn,
        ANALYTICS,
        1,
        timeout=60,
        where=lambda e: (
            e.value["metric"] == "orders_count"
            and e.value["window"] == "tumbling-60s"
            and e.value["window_start"] <= sent_at < e.value["window_end"]
        ),
    )
    assert window.key == "orders_count" and window.value["count"] >= 1
    assert window.service == "analytics"

    health = localhttp.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    assert health["status"] == "ok" and health["group"] == "kafkalab-analytics"
    assert health["state_dir"] == str(tmp_path / "analytics-state" / "replica-0")
    metrics = localhttp.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert (
        'kafkalab_events_consumed_total{event_type="OrderCreated",service="analytics",'
        'topic="order-events"}'
    ) in metrics
    assert 'kafkalab_analytics_value{metric="orders_count",window="tumbling-60s"}' in metrics

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    log = (tmp_path / "analytics.log").read_text()
    assert '"msg": "stopping"' in log and "Traceback" not in log
