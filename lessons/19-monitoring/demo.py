"""Lesson 19: scrape every /metrics like Prometheus (the six services, the platform's group lag
and the broker's own JMX metrics), then pause notification while orders flow and evaluate the
shipped rule file until the consumer-lag alert fires; resume; see it clear."""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import ui
from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import group_id
from kafkalab.chaos import faults
from kafkalab.curriculum.lab import Lab, LessonSetupFailed
from kafkalab.load import shop
from kafkalab.load.plan import LoadPlan
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.promql import Binary, Number
from kafkalab.monitoring.rules import Alert, Rule
from kafkalab.monitoring.scrape import scrape_one
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control

from .check import BrokerView, Sample, Scraped, Seen

PAUSED = "notification"
GROUP = group_id(PAUSED)  # kafkalab-notification: reads order-events and users
RULE = "KafkalabConsumerLag"
SKU = "SKU-STICKER"
BATCH, MAX_ORDERS = 10, 120  # orders per batch while paused, and a ceiling
EVERY = 1.0  # seconds between evaluations (plus the paused target's 2 s scrape timeout)
# One line per endpoint: the series that says most about it.
KEY: dict[str, tuple[str, dict[str, str]]] = {
    "user": ("kafkalab_users_registered_total", {}),
    "order": ("kafkalab_orders_created_total", {}),
    "inventory": ("kafkalab_inventory_reservations_active", {}),
    "payment": ("kafkalab_payments_total", {"outcome": "completed"}),
    "notification": ("kafkalab_notifications_sent_total", {}),
    "analytics": ("kafkalab_analytics_value", {"metric": "orders_total"}),
    "platform": ("kafkalab_consumergroup_lag", {}),
    "broker": ("kafka_network_requestmetrics_totaltime_seconds", {"quantile": "0.99"}),
}


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    with httpx.Client(timeout=30) as http:
        buyers = shop.customers(lab.settings, http, LoadPlan(orders=1, users=2))
        shop.top_up_stock(lab.settings, http, {SKU: 6 + MAX_ORDERS})
    orders = shop.OrderClient(lab.settings)
    try:
        # A few orders first, so every counter has moved and notification has committed on
        # its partitions: the broker computes lag from a *committed* offset.
        place(orders, buyers, 6)
        wait_caught_up(lab)
        scraped, broker = scrape_everything(lab)

        live = LiveAlerts(
            control.scrape_targets(lab.settings)
        )  # the same alerts.yml Prometheus would load
        rule = next(r for r in live.engine.rules if r.name == RULE)
        threshold = threshold_of(rule)
        lab.show(rule.name, [("expr", rule.expr_text), ("for", f"{rule.for_seconds:g} s")])
        samples: list[Sample] = []
        alerts: list[Alert] = []
        target = faults.resolve(lab.settings, PAUSED)
        started = time.monotonic()
        try:
            # SIGSTOP: the process and its consumer freeze. Nothing is committed, so the
            # group's committed offsets stand still while order-events keeps growing.
            lab.say(f"{faults.inject(lab.settings, 'pause', target)}; placing orders.")
            placed, deadline = 0, started + 90
            while time.monotonic() < deadline:
                lag = samples[-1].lag if samples else 0
                if lag <= threshold and placed < MAX_ORDERS:
                    placed += place(orders, buyers, BATCH)
                sample, alerts = evaluate(lab, live, "paused", started, samples)
                samples.append(sample)
                if sample.state == "firing":
                    break
                time.sleep(EVERY)
            if not lab.quiet:  # everything the rule file says at that moment, not only lag
                ui.out.print(ui.alerts_view([a for a in alerts if a.state != "inactive"]))
        finally:
            # SIGCONT in any case: the platform may be shared with other lessons.
            lab.say(f"{faults.inject(lab.settings, 'resume', target)}; waiting for it to catch up.")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            sample, _ = evaluate(lab, live, "resumed", started, samples)
            samples.append(sample)
            if sample.state == "inactive" and sample.lag == 0:
                break
            time.sleep(EVERY)
    finally:
        orders.close()
    timeline(lab, samples, rule.for_seconds)
    return Seen(scraped, broker, threshold, rule.for_seconds, samples)


def evaluate(
    lab: Lab,
    live: LiveAlerts,
    phase: Literal["paused", "resumed"],
    started: float,
    before: list[Sample],
) -> tuple[Sample, list[Alert]]:
    """One scrape of every target and one evaluation of every rule; what they say about GROUP."""
    alerts = live.sample()
    mine = next((a for a in alerts if a.rule == RULE and a.labels.get("group") == GROUP), None)
    lag = sum(
        v
        for labels, v in live.history.instant("kafkalab_consumergroup_lag")
        if ("group", GROUP) in labels
    )
    up = any(v == 1 for labels, v in live.history.instant("up") if ("endpoint", PAUSED) in labels)
    state = mine.state if mine else "inactive"
    if not before or before[-1].state != state:
        lab.say(f"{time.monotonic() - started:.0f} s: {RULE} is {state} (lag {lag:.0f}).")
    at = time.monotonic() - started
    value, held = (mine.value, mine.active_for) if mine else (None, 0.0)
    return Sample(phase, at, state, value, held, int(lag), up), alerts


def timeline(lab: Lab, samples: list[Sample], for_seconds: float) -> None:
    lab.table(
        f"{RULE} for group {GROUP}: one row per evaluation",
        ["t", "phase", "lag", "state", "held/for", f"{PAUSED} up"],
        [
            [
                f"{s.at:.0f} s",
                s.phase,
                s.lag,
                s.state,
                f"{s.active_for:.0f}/{for_seconds:g} s",
                s.up,
            ]
            for s in samples
        ],
    )


def threshold_of(rule: Rule) -> float:
    """N in `... > N`: the rule's own threshold, read from the file rather than copied."""
    if (
        isinstance(rule.expr, Binary)
        and rule.expr.op == ">"
        and isinstance(rule.expr.right, Number)
    ):
        return rule.expr.right.value
    raise LessonSetupFailed(f"{rule.name} is not `… > N` any more: {rule.expr_text}")


def place(orders: shop.OrderClient, buyers: list[shop.Customer], count: int) -> int:
    """`count` orders through the order service's HTTP API; how many it accepted."""
    placed = [orders.place(buyers[i % len(buyers)], SKU) for i in range(count)]
    return sum(1 for p in placed if p.order_id)


def wait_caught_up(lab: Lab, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(g.total for g in group_lag(lab.conn, [GROUP])) == 0:
            return
        time.sleep(1)
    raise LessonSetupFailed(f"{GROUP} did not catch up within {timeout:g} s")


def scrape_everything(lab: Lab) -> tuple[list[Scraped], BrokerView | None]:
    """Each endpoint's /metrics, checked against the catalogue; a few key series shown; what the
    brokers' JMX exporter agents say, in a table of its own."""
    scraped, rows, brokers = [], [], []
    for target in control.scrape_targets(lab.settings):
        text = scrape_one(target, timeout=10)
        families = {f.name: f for f in text_string_to_metric_families(text or "")}
        missing = [
            spec.name
            for spec in specs.exported_by(target.endpoint)
            if getattr(families.get(specs.family_name(spec)), "type", None) != spec.type
        ]
        scraped.append(Scraped(target.endpoint, text is not None, missing))
        samples = [s for f in families.values() for s in f.samples]
        if target.endpoint == "broker" and text is not None:
            brokers.append((target.instance, samples))
        key, wanted = KEY[target.endpoint]
        value = sum(
            s.value for s in samples if s.name == key and wanted.items() <= s.labels.items()
        )
        rows.append(
            [
                target.instance,
                target.endpoint,
                len(families),
                f"{key}{_labels(wanted)} = {value:g}",
                f"{sum(s.value for s in samples if s.name == 'kafkalab_events_consumed_total'):g}",
                ", ".join(missing) or "none",
            ]
        )
    lab.table(
        "GET /metrics on every endpoint (what Prometheus scrapes)",
        ["instance", "endpoint", "families", "key series (summed)", "events consumed", "missing"],
        rows,
    )
    return scraped, broker_metrics(lab, brokers)


def broker_metrics(lab: Lab, brokers: list[tuple[str, list[Any]]]) -> BrokerView | None:
    """The broker's own health and latency, from its JMX exporter agent (one per broker)."""
    if not brokers:
        return None

    def value(samples: list[Any], name: str, **labels: str) -> float:
        return sum(
            s.value for s in samples if s.name == name and labels.items() <= s.labels.items()
        )

    latency = specs.REQUEST_TIME.name
    shown: list[tuple[str, str, dict[str, str], float]] = [  # (what, series, labels, scale)
        ("under-replicated partitions", specs.UNDER_REPLICATED.name, {}, 1),
        ("offline partitions", specs.OFFLINE_PARTITIONS.name, {}, 1),
        ("active controller", specs.ACTIVE_CONTROLLER.name, {}, 1),
        ("Produce requests", specs.REQUESTS.name, {"request": "Produce"}, 1),
        ("Produce p99 (ms)", latency, {"request": "Produce", "quantile": "0.99"}, 1000),
        ("Fetch p99 (ms)", latency, {"request": "FetchConsumer", "quantile": "0.99"}, 1000),
    ]
    lab.table(
        "The broker's own metrics: Prometheus' JMX exporter, a java agent in the broker's JVM",
        ["series", *[f"broker :{instance.rsplit(':', 1)[-1]}" for instance, _ in brokers]],
        [
            [
                f"{what}: {series}",
                *[f"{value(s, series, **labels) * scale:.4g}" for _, s in brokers],
            ]
            for what, series, labels, scale in shown
        ],
    )
    everything = [s for _, samples in brokers for s in samples]
    return BrokerView(
        under_replicated=value(everything, specs.UNDER_REPLICATED.name),
        offline=max(value(samples, specs.OFFLINE_PARTITIONS.name) for _, samples in brokers),
        active_controllers=value(everything, specs.ACTIVE_CONTROLLER.name),
        produce_requests=value(everything, specs.REQUESTS.name, request="Produce"),
        produce_p99=max(
            value(samples, latency, request="Produce", quantile="0.99") for _, samples in brokers
        ),
    )


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
