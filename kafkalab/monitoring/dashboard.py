"""The numbers behind `kafkalab dashboard`, gathered without any store but Kafka and /metrics.

Each refresh takes a `DashboardSnapshot`: analytics windows (read incrementally from the
`analytics` topic: orders and revenue this minute, payment success, inventory turnover, each
notification channel's delivery rate), per-service event rates (from each service's Prometheus counters, as the
difference between two scrapes), group lag with its recent history, dead-letter counts (the
DLT topics' end offsets), stock levels (inventory's /stock), and the alerts of the shipped rule
file (kafkalab/monitoring/alerts.yml), evaluated from /metrics exactly as `kafkalab alerts --watch`
does — one set of alert definitions, whichever way you look.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.admin import OffsetSpec
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import clients, localhttp
from kafkalab.catalogue.services import CHANNELS, SERVICES, group_id, service_port
from kafkalab.connection import Connection
from kafkalab.events.serde import EventSerde, UndecodableEvent
from kafkalab.events.topics import ANALYTICS, CATALOGUE
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.rules import Alert
from kafkalab.monitoring.scrape import Target
from kafkalab.observe.lag import group_lag
from kafkalab.settings import Settings

LOW_STOCK = 10
HISTORY = 30


@dataclass
class ServiceRate:
    service: str
    up: bool
    consumed_per_s: float
    produced_per_s: float
    dead_letters: int


@dataclass
class DashboardSnapshot:
    at: float
    orders_per_min: float | None
    revenue_per_min_cents: float | None
    payment_success_rate: float | None
    orders_total: float | None
    inventory_turnover: float | None = None  # units committed ÷ average stock, this minute
    delivery_rate: dict[str, float] = field(default_factory=dict)  # channel → sent ÷ requested
    conversion_rate: float | None = None  # confirmed ÷ created since analytics started
    services: list[ServiceRate] = field(default_factory=list)
    lag: dict[str, int] = field(default_factory=dict)
    lag_history: dict[str, list[int]] = field(default_factory=dict)
    dlt_records: dict[str, int] = field(default_factory=dict)
    low_stock: dict[str, int] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)  # firing and pending only
    delivery: dict[str, ChannelDelivery] = field(default_factory=dict)  # by channel


@dataclass
class ChannelDelivery:
    """Notification's counters for one channel since its replicas started (their /metrics)."""

    requested: float
    sent: float

    @property
    def rate(self) -> float | None:
        """Sent ÷ requested: 1.0 when every requested notification went out."""
        return self.sent / self.requested if self.requested else None


def keep_latest(windows: dict[tuple[str, str], dict[str, float]], value: dict[str, Any]) -> None:
    """Fold one AnalyticsWindow record into `windows` ((metric, window) → start and value).

    A window's latest is the one that starts last. A running total is its key's latest record
    (one partition, read in the order written): its window_start is the earliest event time
    seen, which moves *back* when a late event arrives — compared like a window's, the total
    would freeze at the record before that event."""
    key = (str(value.get("metric")), str(value.get("window")))
    start = float(value.get("window_start", 0) or 0)
    latest = windows.get(key)
    if latest is None or key[1] == "running" or start >= latest["start"]:
        windows[key] = {"start": start, "value": float(value.get("value", 0.0) or 0.0)}


FIRST_READ_TIMEOUT = 15.0
"""How long the first refresh may take to read `analytics` to its ends as they were."""


class Dashboard:
    """Keeps the state between refreshes (previous counters, lag history, analytics cursor)."""

    def __init__(self, settings: Settings, conn: Connection, found: list[Target]) -> None:
        """`found`: the /metrics endpoints to scrape (`platform.control.scrape_targets`)."""
        self.settings = settings
        self.conn = conn
        self._counters: dict[
            str, tuple[float, float, float]
        ] = {}  # service → (t, consumed, produced)
        self._history: dict[str, deque[int]] = {}
        self._windows: dict[tuple[str, str], dict[str, float]] = {}  # (metric, window) → latest
        self._serde = EventSerde(conn)
        self._analytics = clients.consumer(
            conn, "kafkalab-dashboard", **{"enable.auto.commit": False}
        )
        self._assigned = False
        self._admin = clients.admin(conn)
        self._alerts = LiveAlerts(found)

    def close(self) -> None:
        self._analytics.close()

    def snapshot(self) -> DashboardSnapshot:
        self._read_analytics()
        snap = DashboardSnapshot(
            at=time.time(),
            orders_per_min=self._latest("orders_count", "tumbling-60s"),
            revenue_per_min_cents=self._latest("revenue_cents", "tumbling-60s"),
            payment_success_rate=self._latest("payment_success_rate", "tumbling-60s"),
            orders_total=self._latest("orders_total", "running"),
            inventory_turnover=self._latest("inventory_turnover", "tumbling-60s"),
            conversion_rate=self._latest("conversion_rate", "running"),
        )
        for channel in CHANNELS:  # since analytics started: a minute's rate jumps at boundaries
            rate = self._latest(f"notification_delivery_rate.{channel}", "running")
            if rate is not None:
                snap.delivery_rate[channel] = rate
        snap.services = [self._rates(name) for name in SERVICES]
        for group in group_lag(self.conn, [group_id(name) for name in SERVICES]):
            snap.lag[group.group] = group.total
            history = self._history.setdefault(group.group, deque(maxlen=HISTORY))
            history.append(group.total)
            snap.lag_history[group.group] = list(history)
        snap.dlt_records = self._dead_letters()
        snap.low_stock = self._low_stock()
        snap.delivery = self._delivery()
        snap.alerts = [a for a in self._alerts.sample() if a.state != "inactive"]
        return snap

    def _latest(self, metric: str, window: str) -> float | None:
        found = self._windows.get((metric, window))
        return found["value"] if found else None

    def _read_analytics(self) -> None:
        ends: dict[int, int] = {}
        if not self._assigned:
            metadata = self._analytics.list_topics(ANALYTICS, timeout=5)
            partitions = (
                metadata.topics[ANALYTICS].partitions if ANALYTICS in metadata.topics else {}
            )
            self._analytics.assign(
                [TopicPartition(ANALYTICS, p, OFFSET_BEGINNING) for p in partitions]
            )
            self._assigned = bool(partitions)
            # The first read goes to the ends as they are now: an empty first batch only means
            # the first fetch has not come back yet (a `--once` snapshot would show no figures).
            for p in partitions:
                found = self._analytics.get_watermark_offsets(
                    TopicPartition(ANALYTICS, p), timeout=5
                )
                if (
                    found is not None and found[1] > found[0]
                ):  # an empty partition: nothing to wait for
                    ends[p] = int(found[1])
        deadline = time.monotonic() + FIRST_READ_TIMEOUT
        while True:
            batch = self._analytics.consume(1000, timeout=0.2)
            if not batch:
                if ends and not self._reached(ends) and time.monotonic() < deadline:
                    continue
                return
            for msg in batch:
                if msg.error():
                    continue
                try:
                    value = self._serde.decode(msg).value
                except UndecodableEvent:
                    continue
                keep_latest(self._windows, value)

    def _reached(self, ends: dict[int, int]) -> bool:
        """Has the analytics reader reached `ends` (partition → offset) on every partition?"""
        positions = self._analytics.position([TopicPartition(ANALYTICS, p) for p in ends])
        return all(tp.offset >= ends[tp.partition] for tp in positions)

    def _rates(self, name: str) -> ServiceRate:
        url = f"http://{self.settings.host}:{service_port(self.settings, name)}/metrics"
        try:
            text = localhttp.get(url, timeout=1.0).text
        except httpx.HTTPError:
            return ServiceRate(name, False, 0.0, 0.0, 0)
        totals = {
            "kafkalab_events_consumed": 0.0,
            "kafkalab_events_produced": 0.0,
            "kafkalab_dead_letters": 0.0,
        }
        for family in text_string_to_metric_families(text):
            if family.name in totals:
                totals[family.name] = sum(
                    s.value for s in family.samples if s.name.endswith("_total")
                )
        now = time.monotonic()
        before = self._counters.get(name)
        self._counters[name] = (
            now,
            totals["kafkalab_events_consumed"],
            totals["kafkalab_events_produced"],
        )
        if before is None or now <= before[0]:
            return ServiceRate(name, True, 0.0, 0.0, int(totals["kafkalab_dead_letters"]))
        elapsed = now - before[0]
        return ServiceRate(
            name,
            True,
            (totals["kafkalab_events_consumed"] - before[1]) / elapsed,
            (totals["kafkalab_events_produced"] - before[2]) / elapsed,
            int(totals["kafkalab_dead_letters"]),
        )

    def _delivery(self) -> dict[str, ChannelDelivery]:
        """Requested and sent notifications per channel, from notification's counters."""
        url = f"http://{self.settings.host}:{service_port(self.settings, 'notification')}/metrics"
        try:
            text = localhttp.get(url, timeout=1.0).text
        except httpx.HTTPError:
            return {}
        found: dict[str, ChannelDelivery] = {}
        for family in text_string_to_metric_families(text):
            kind = {
                "kafkalab_notifications_requested": "requested",
                "kafkalab_notifications_sent": "sent",
            }.get(family.name)
            if kind is None:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_total") or "channel" not in sample.labels:
                    continue
                row = found.setdefault(sample.labels["channel"], ChannelDelivery(0.0, 0.0))
                setattr(row, kind, getattr(row, kind) + sample.value)
        return dict(sorted(found.items()))

    def _dead_letters(self) -> dict[str, int]:
        """Records held by each dead-letter topic (end − start offset), two requests in all:
        a watermark call per partition took ~0.4 s each, most of a refresh."""
        admin = self._admin
        metadata = admin.list_topics(timeout=5)
        partitions = [
            TopicPartition(spec.name, p)
            for spec in CATALOGUE
            if spec.name.endswith(".DLT") and spec.name in metadata.topics
            for p in metadata.topics[spec.name].partitions
        ]
        counts = {tp.topic: 0 for tp in partitions}
        if not partitions:
            return counts
        for spec, sign in ((OffsetSpec.latest(), 1), (OffsetSpec.earliest(), -1)):
            futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=5)
            for tp, future in futures.items():
                counts[tp.topic] += sign * future.result(timeout=5).offset
        return counts

    def _low_stock(self) -> dict[str, int]:
        url = f"http://{self.settings.host}:{service_port(self.settings, 'inventory')}/stock"
        try:
            stock = localhttp.get(url, timeout=1.0).json().get("stock", {})
        except (httpx.HTTPError, ValueError):
            return {}
        return {
            sku: int(level.get("available", 0))
            for sku, level in stock.items()
            if int(level.get("available", 0)) < LOW_STOCK
        }
