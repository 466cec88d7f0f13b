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

import httpx
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import clients
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
    services: list[ServiceRate] = field(default_factory=list)
    lag: dict[str, int] = field(default_factory=dict)
    lag_history: dict[str, list[int]] = field(default_factory=dict)
    dlt_records: dict[str, int] = field(default_factory=dict)
    low_stock: dict[str, int] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)  # firing and pending only


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
        snap.alerts = [a for a in self._alerts.sample() if a.state != "inactive"]
        return snap

    def _latest(self, metric: str, window: str) -> float | None:
        found = self._windows.get((metric, window))
        return found["value"] if found else None

    def _read_analytics(self) -> None:
        if not self._assigned:
            metadata = self._analytics.list_topics(ANALYTICS, timeout=5)
            partitions = (
                metadata.topics[ANALYTICS].partitions if ANALYTICS in metadata.topics else {}
            )
            self._analytics.assign(
                [TopicPartition(ANALYTICS, p, OFFSET_BEGINNING) for p in partitions]
            )
            self._assigned = bool(partitions)
        while True:
            batch = self._analytics.consume(1000, timeout=0.2)
            if not batch:
                return
            for msg in batch:
                if msg.error():
                    continue
                try:
                    value = self._serde.decode(msg).value
                except UndecodableEvent:
                    continue
                key = (str(value.get("metric")), str(value.get("window")))
                latest = self._windows.get(key)
                if latest is None or value.get("window_start", 0) >= latest["start"]:
                    self._windows[key] = {
                        "start": float(value.get("window_start", 0)),
                        "value": float(value.get("value", 0.0)),
                    }

    def _rates(self, name: str) -> ServiceRate:
        url = f"http://{self.settings.host}:{service_port(self.settings, name)}/metrics"
        try:
            text = httpx.get(url, timeout=1.0).text
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

    def _dead_letters(self) -> dict[str, int]:
        consumer = self._analytics
        counts: dict[str, int] = {}
        metadata = consumer.list_topics(timeout=5)
        for spec in CATALOGUE:
            if not spec.name.endswith(".DLT") or spec.name not in metadata.topics:
                continue
            total = 0
            for p in metadata.topics[spec.name].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(spec.name, p), timeout=5)
                total += high - low
            counts[spec.name] = total
        return counts

    def _low_stock(self) -> dict[str, int]:
        url = f"http://{self.settings.host}:{service_port(self.settings, 'inventory')}/stock"
        try:
            stock = httpx.get(url, timeout=1.0).json().get("stock", {})
        except (httpx.HTTPError, ValueError):
            return {}
        return {
            sku: int(level.get("available", 0))
            for sku, level in stock.items()
            if int(level.get("available", 0)) < LOW_STOCK
        }
