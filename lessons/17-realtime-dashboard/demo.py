"""Lesson 17: orders flow through analytics into the live dashboard; its figures are the topic's."""

from __future__ import annotations

import time

import httpx
from confluent_kafka import TopicPartition

from kafkalab import ui
from kafkalab.curriculum import quix
from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import EventSerde, UndecodableEvent
from kafkalab.events.topics import ANALYTICS
from kafkalab.load import shop
from kafkalab.load.plan import LoadPlan, sku, stock_needed
from kafkalab.monitoring.dashboard import Dashboard, DashboardSnapshot
from kafkalab.platform import control

from .check import Record, Seen, from_topic

ORDERS = 12


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    before = from_topic(analytics(lab))["orders_total"]
    lab.say(f"orders_total on `{ANALYTICS}` before this lesson: {before or 0:.0f}.")
    with httpx.Client(timeout=30) as http:  # 3 buyers: two can pay, one cannot
        buyers = shop.customers(
            lab.settings, http, LoadPlan(orders=ORDERS, users=3, fail_rate=0.25)
        )
        shop.top_up_stock(lab.settings, http, stock_needed(ORDERS))
    client = shop.OrderClient(lab.settings)
    try:  # the real path: POST /orders → order-events → … → analytics → `analytics` topic
        placed = [client.place(buyers[i % len(buyers)], sku(i)) for i in range(ORDERS)]
    finally:
        client.close()
    accepted = sum(1 for p in placed if p.order_id)
    lab.say(
        f"Placed {accepted} of {ORDERS} orders; refreshing the dashboard until analytics settles."
    )

    board = Dashboard(
        lab.settings, lab.conn, control.scrape_targets(lab.settings)
    )  # reads `analytics` from the start, then incrementally
    try:
        snap = board.snapshot()
        deadline, steady, ends = time.monotonic() + 120, 0, end_offsets(lab)
        while time.monotonic() < deadline and steady < 3:  # 3 refreshes with no new record
            time.sleep(1)
            snap = board.snapshot()  # what `kafkalab dashboard` does every refresh
            now = end_offsets(lab)
            total = from_topic(analytics(lab))["orders_total"] if now == ends else None
            steady = steady + 1 if now == ends and (total or 0) >= (before or 0) + accepted else 0
            ends = now
        for _ in range(3):  # compare at one point of the topic: retry if a record slipped in
            ends = end_offsets(lab)
            snap = board.snapshot()
            records = analytics(lab)
            if end_offsets(lab) == ends:
                break
    finally:
        board.close()
    if not lab.quiet:
        ui.out.print(ui.dashboard_view(snap))
    return Seen(accepted, ORDERS, before, records, figures(snap), end_offsets(lab) == ends)


def figures(snap: DashboardSnapshot) -> dict[str, float | None]:
    return {
        "orders_total": snap.orders_total,
        "orders_per_min": snap.orders_per_min,
        "revenue_per_min_cents": snap.revenue_per_min_cents,
        "payment_success_rate": snap.payment_success_rate,
    }


def analytics(lab: Lab) -> list[Record]:
    """Every AnalyticsWindow record on the topic, decoded through the schema registry."""
    serde, found = EventSerde(lab.conn), []
    for message in quix.read_all(lab, ANALYTICS):
        try:
            v = serde.decode(message).value
        except UndecodableEvent:
            continue
        found.append(
            Record(
                message.partition(),
                message.offset(),
                v["metric"],
                v["window"],
                v["window_start"],
                v["value"],
            )
        )
    return found


def end_offsets(lab: Lab) -> list[int]:
    consumer = lab.consumer(lab.group("ends"))
    try:
        partitions = consumer.list_topics(ANALYTICS, timeout=10).topics[ANALYTICS].partitions
        return [
            consumer.get_watermark_offsets(TopicPartition(ANALYTICS, p), timeout=10)[1]
            for p in sorted(partitions)
        ]
    finally:
        consumer.close()
