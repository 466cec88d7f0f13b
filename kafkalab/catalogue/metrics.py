"""Every Prometheus metric kafkalab exports: name, type, labels, help, and who exports it.

One list, so that the services, the alert rules (kafkalab/monitoring/alerts.yml), the Grafana
dashboard and the tests agree on the names. The services build their metric objects from these
specs (`counter`, `gauge`, `histogram` below); a test scrapes the running platform and checks
that each spec is there with its type, and another that every name a rule uses is listed here.

Conventions (https://prometheus.io/docs/practices/naming/): a `kafkalab_` prefix, `_total` on
counters, base units in the name (`_seconds`, `_cents` for money, which has no SI unit), and
labels instead of names for dimensions (topic, outcome, channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MetricType = Literal["counter", "gauge", "histogram"]

#: Every service's metrics endpoint; `platform` is the supervisor's endpoint (group lag seen
#: from the broker, which a paused or dead consumer cannot report about itself).
ALL_SERVICES: tuple[str, ...] = (
    "user",
    "order",
    "inventory",
    "payment",
    "notification",
    "analytics",
)
PLATFORM = "platform"
#: Each broker's JMX exporter agent (kafkalab/cluster/config.py `render_jmx_exporter`): the
#: broker's own metrics, named `kafka_…` after the MBeans they come from, not `kafkalab_…`.
BROKER = "broker"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class MetricSpec:
    name: str  # the family name as exposed (counters with their _total)
    type: MetricType
    labels: tuple[str, ...]
    help: str
    exported_by: tuple[str, ...]  # service names, or (PLATFORM,), or (BROKER,)


def _common(name: str, type_: MetricType, labels: tuple[str, ...], help_: str) -> MetricSpec:
    return MetricSpec(name, type_, ("service", *labels), help_, ALL_SERVICES)


# -- the common set: every service ---------------------------------------------------------------

EVENTS_CONSUMED = _common(
    "kafkalab_events_consumed_total",
    "counter",
    ("topic", "event_type"),
    "Events handled successfully, by input topic and event type",
)
EVENTS_PRODUCED = _common(
    "kafkalab_events_produced_total",
    "counter",
    ("topic", "event_type"),
    "Events emitted, by output topic and event type",
)
PROCESSING_SECONDS = _common(
    "kafkalab_processing_seconds",
    "histogram",
    ("topic",),
    "Time to handle one consumed event (retries included), by input topic",
)
RETRIES = _common(
    "kafkalab_retries_total",
    "counter",
    ("topic",),
    "Handler retries after a transient failure, by input topic",
)
DEAD_LETTERS = _common(
    "kafkalab_dead_letters_total",
    "counter",
    ("topic",),
    "Events parked in a dead-letter topic, by the dead-letter topic",
)
TRANSACTIONS = _common(
    "kafkalab_transactions_total",
    "counter",
    ("outcome",),
    "Kafka transactions by outcome (committed, aborted); transactional services only",
)
CONSUMER_LAG = _common(
    "kafkalab_consumer_lag",
    "gauge",
    ("topic", "partition"),
    "Records behind the partition's high watermark, as this replica's consumer sees it",
)

# -- service-specific ----------------------------------------------------------------------------

USERS_REGISTERED = MetricSpec(
    "kafkalab_users_registered_total", "counter", (), "Accounts created", ("user",)
)
LOGINS = MetricSpec(
    "kafkalab_logins_total",
    "counter",
    ("outcome",),
    "Login attempts by outcome (ok, refused)",
    ("user",),
)
PREFERENCE_CHANGES = MetricSpec(
    "kafkalab_preference_changes_total",
    "counter",
    (),
    "Preference changes published (PUT /users/{id}/preferences)",
    ("user",),
)
ORDERS_CREATED = MetricSpec(
    "kafkalab_orders_created_total", "counter", (), "Orders accepted (OrderCreated)", ("order",)
)
ORDER_REVENUE = MetricSpec(
    "kafkalab_order_value_cents_total",
    "counter",
    (),
    "Total value of the orders accepted, in cents",
    ("order",),
)
ORDER_STOCK_CHECKS = MetricSpec(
    "kafkalab_order_stock_checks_total",
    "counter",
    ("outcome",),
    "Stock checks by outcome (available, unavailable, timeout)",
    ("order",),
)
ORDER_TRANSITIONS = MetricSpec(
    "kafkalab_order_transitions_total",
    "counter",
    ("from_status", "to_status"),
    "Order transitions applied by this replica",
    ("order",),
)
ORDER_ILLEGAL = MetricSpec(
    "kafkalab_order_illegal_transitions_total",
    "counter",
    ("status", "trigger"),
    "Triggers refused by the order state machine",
    ("order",),
)
ORDER_PARKED = MetricSpec(
    "kafkalab_order_parked_events_total",
    "counter",
    ("trigger",),
    "Events that arrived before their order was ready for them, by type",
    ("order",),
)
ORDERS_BY_STATUS = MetricSpec(
    "kafkalab_orders", "gauge", ("status",), "Orders in this replica's view, by status", ("order",)
)
INVENTORY_RESERVATIONS = MetricSpec(
    "kafkalab_inventory_reservations_total",
    "counter",
    ("outcome",),
    "Reservation decisions by outcome (counted once their transaction committed)",
    ("inventory",),
)
INVENTORY_STOCK = MetricSpec(
    "kafkalab_inventory_stock_units",
    "gauge",
    ("sku", "state"),
    "Units per SKU: available to reserve, or reserved for unpaid orders",
    ("inventory",),
)
INVENTORY_SEEDED = MetricSpec(
    "kafkalab_inventory_seeded_units",
    "gauge",
    ("sku",),
    "Units each SKU's stock was seeded with (what 'low' is measured against)",
    ("inventory",),
)
INVENTORY_ACTIVE = MetricSpec(
    "kafkalab_inventory_reservations_active",
    "gauge",
    (),
    "Reservations holding stock (not yet paid, released or expired)",
    ("inventory",),
)
PAYMENTS = MetricSpec(
    "kafkalab_payments_total",
    "counter",
    ("outcome",),
    "Payment decisions by outcome: completed, a failure reason, or duplicate/retry_scheduled "
    "(counted once their transaction committed)",
    ("payment",),
)
PAYMENT_CHARGED = MetricSpec(
    "kafkalab_payment_charged_cents_total",
    "counter",
    (),
    "Money charged, in cents (committed payments only): the revenue",
    ("payment",),
)
PAYMENT_CIRCUIT = MetricSpec(
    "kafkalab_payment_circuit_state",
    "gauge",
    (),
    "Gateway circuit breaker: 0 closed, 1 open, 2 half-open",
    ("payment",),
)
PAYMENT_CIRCUIT_TRANSITIONS = MetricSpec(
    "kafkalab_payment_circuit_transitions_total",
    "counter",
    ("to",),
    "Circuit breaker state changes, by the state entered",
    ("payment",),
)
NOTIFICATIONS_REQUESTED = MetricSpec(
    "kafkalab_notifications_requested_total",
    "counter",
    ("channel", "template"),
    "NotificationRequested fanned out, by channel and template",
    ("notification",),
)
NOTIFICATIONS_SENT = MetricSpec(
    "kafkalab_notifications_sent_total",
    "counter",
    ("channel", "template"),
    "Notifications delivered by a channel worker, by channel and template",
    ("notification",),
)
NOTIFICATIONS_SKIPPED = MetricSpec(
    "kafkalab_notifications_skipped_total",
    "counter",
    ("channel", "reason"),
    "Channels not requested for a notifiable transition, by reason (opted_out: the user's "
    "preferences; unreachable: no address, e.g. no phone for sms)",
    ("notification",),
)
NOTIFICATIONS_DUPLICATES = MetricSpec(
    "kafkalab_notifications_duplicates_total",
    "counter",
    ("channel",),
    "Redelivered requests a channel worker recognised and did not deliver again",
    ("notification",),
)
ANALYTICS_VALUE = MetricSpec(
    "kafkalab_analytics_value",
    "gauge",
    ("metric", "window"),
    "Latest value emitted per analytics metric and window kind",
    ("analytics",),
)
INVENTORY_TURNOVER = MetricSpec(
    "kafkalab_inventory_turnover",
    "gauge",
    ("window",),
    "Units committed (sold) ÷ average on-hand stock (available + reserved, all SKUs), by "
    "window kind: tumbling-60s (the latest minute) or running (since analytics first started)",
    ("analytics",),
)
NOTIFICATION_DELIVERY_RATE = MetricSpec(
    "kafkalab_notification_delivery_rate",
    "gauge",
    ("channel", "window"),
    "NotificationSent ÷ NotificationRequested per channel, by window kind: running (since "
    "analytics first started) or tumbling-60s (a minute's, which reads above 1 when requests of "
    "the minute before are delivered in it); an opted-out channel is never requested, so it "
    "does not lower the rate",
    ("analytics",),
)
ANALYTICS_SKIPPED = MetricSpec(
    "kafkalab_analytics_rows_skipped_total",
    "counter",
    (),
    "Rows a processing step failed on (logged and skipped)",
    ("analytics",),
)

# -- the platform endpoint (the supervisor) ------------------------------------------------------

GROUP_LAG = MetricSpec(
    "kafkalab_consumergroup_lag",
    "gauge",
    ("group", "topic", "partition"),
    "Records between a group's committed offset and the partition's end, read from the broker",
    (PLATFORM,),
)
SERVICE_REPLICAS = MetricSpec(
    "kafkalab_service_replicas",
    "gauge",
    ("service", "state"),
    "Replicas per service as the supervisor sees them, by state (running, backoff, ...)",
    (PLATFORM,),
)

# -- each broker's JMX exporter agent -------------------------------------------------------------

UNDER_REPLICATED = MetricSpec(
    "kafka_server_replicamanager_underreplicatedpartitions",
    "gauge",
    (),
    "Partitions led by this broker with fewer in-sync replicas than replicas",
    (BROKER,),
)
OFFLINE_PARTITIONS = MetricSpec(
    "kafka_controller_kafkacontroller_offlinepartitionscount",
    "gauge",
    (),
    "Partitions with no leader, so no reads or writes, as this controller sees them",
    (BROKER,),
)
ACTIVE_CONTROLLER = MetricSpec(
    "kafka_controller_kafkacontroller_activecontrollercount",
    "gauge",
    (),
    "1 on the active KRaft controller, 0 elsewhere",
    (BROKER,),
)
REQUEST_TIME = MetricSpec(
    "kafka_network_requestmetrics_totaltime_seconds",
    "gauge",
    ("request", "quantile"),
    "Time from receiving a request to sending its response, by request type (Produce, "
    "FetchConsumer), as quantiles of Kafka's own histogram",
    (BROKER,),
)
REQUESTS = MetricSpec(
    "kafka_network_requestmetrics_requests_total",
    "counter",
    ("request",),
    "Requests handled, by request type",
    (BROKER,),
)

CATALOGUE: tuple[MetricSpec, ...] = (
    EVENTS_CONSUMED,
    EVENTS_PRODUCED,
    PROCESSING_SECONDS,
    RETRIES,
    DEAD_LETTERS,
    TRANSACTIONS,
    CONSUMER_LAG,
    USERS_REGISTERED,
    LOGINS,
    PREFERENCE_CHANGES,
    ORDERS_CREATED,
    ORDER_REVENUE,
    ORDER_STOCK_CHECKS,
    ORDER_TRANSITIONS,
    ORDER_ILLEGAL,
    ORDER_PARKED,
    ORDERS_BY_STATUS,
    INVENTORY_RESERVATIONS,
    INVENTORY_STOCK,
    INVENTORY_SEEDED,
    INVENTORY_ACTIVE,
    PAYMENTS,
    PAYMENT_CHARGED,
    PAYMENT_CIRCUIT,
    PAYMENT_CIRCUIT_TRANSITIONS,
    NOTIFICATIONS_REQUESTED,
    NOTIFICATIONS_SENT,
    NOTIFICATIONS_SKIPPED,
    NOTIFICATIONS_DUPLICATES,
    ANALYTICS_VALUE,
    INVENTORY_TURNOVER,
    NOTIFICATION_DELIVERY_RATE,
    ANALYTICS_SKIPPED,
    GROUP_LAG,
    SERVICE_REPLICAS,
    UNDER_REPLICATED,
    OFFLINE_PARTITIONS,
    ACTIVE_CONTROLLER,
    REQUEST_TIME,
    REQUESTS,
)


# -- the learner's refund service (lesson 22's skeleton names them; `up --with refund`) -------------

REFUNDS_ISSUED = MetricSpec(
    "refunds_issued_total",
    "counter",
    (),
    "Refunds the learner's refund service committed to the refunds topic",
    ("refund",),
)
REFUND_DEAD_LETTERS = MetricSpec(
    "refunds_dead_letters_total",
    "counter",
    (),
    "Poison records the learner's refund service committed to refunds.DLT",
    ("refund",),
)

LEARNER_CATALOGUE: tuple[MetricSpec, ...] = (REFUNDS_ISSUED, REFUND_DEAD_LETTERS)
"""Named by lesson 22's exercise.py (the learner's code exports them, not kafkalab's), so they
keep the skeleton's names, without the kafkalab_ prefix; the shipped KafkalabRefundDeadLetters
rule reads one of them."""


def exported_by(endpoint: str) -> list[MetricSpec]:
    """The specs one endpoint (a service name, PLATFORM or BROKER) must expose."""
    return [spec for spec in CATALOGUE if endpoint in spec.exported_by]


def family_name(spec: MetricSpec) -> str:
    """The name prometheus_client's text parser gives the family (counters lose `_total`)."""
    return spec.name.removesuffix("_total") if spec.type == "counter" else spec.name


def series_names(spec: MetricSpec) -> tuple[str, ...]:
    """The sample names a family exposes (a histogram's _bucket/_sum/_count)."""
    if spec.type == "histogram":
        return (f"{spec.name}_bucket", f"{spec.name}_sum", f"{spec.name}_count")
    return (spec.name,)


# -- building the prometheus_client objects from a spec ------------------------------------------


class _CachedLabels:
    """`labels(*values)` answered from a dict after the first call with the same values.

    A service calls `labels()` for every record it handles; prometheus_client validates and
    stringifies the values and takes a lock each time (a few µs). The children never change
    (nothing here calls `remove()` or `clear()`), so the first answer is kept."""

    def labels(self, *values: Any, **named: Any) -> Any:
        if named or not values:
            return super().labels(*values, **named)  # type: ignore[misc]
        cache: dict[tuple[Any, ...], Any] = self.__dict__.setdefault("_children_by_values", {})
        child = cache.get(values)
        if child is None:
            child = cache[values] = super().labels(*values)  # type: ignore[misc]
        return child


class _Counter(_CachedLabels, Counter):
    pass


class _Gauge(_CachedLabels, Gauge):
    pass


class _Histogram(_CachedLabels, Histogram):
    pass


def counter(spec: MetricSpec, registry: CollectorRegistry) -> Counter:
    _check(spec, "counter")
    return _Counter(spec.name, spec.help, list(spec.labels), registry=registry)


def gauge(spec: MetricSpec, registry: CollectorRegistry) -> Gauge:
    _check(spec, "gauge")
    return _Gauge(spec.name, spec.help, list(spec.labels), registry=registry)


def histogram(spec: MetricSpec, registry: CollectorRegistry) -> Histogram:
    _check(spec, "histogram")
    return _Histogram(
        spec.name, spec.help, list(spec.labels), registry=registry, buckets=LATENCY_BUCKETS
    )


def _check(spec: MetricSpec, wanted: MetricType) -> None:
    if spec.type != wanted:
        raise ValueError(f"{spec.name} is a {spec.type}, not a {wanted}")
