"""The figures of a load run, as dataclasses: the CLI renders them, `--json` dumps them, tests
assert on them. Times are milliseconds or seconds as named; rates are per second."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafkalab.load.plan import LoadPlan


@dataclass
class Latency:
    """Percentiles from an HDR histogram (3 significant digits), in milliseconds."""

    count: int = 0
    p50: int = 0
    p95: int = 0
    p99: int = 0
    max: int = 0
    mean: float = 0.0


@dataclass
class Outcomes:
    """What became of the orders of one kind (paying, or placed by users who cannot pay)."""

    accepted: int = 0
    """POST /orders answered 201: the order exists and must reach a terminal state."""
    confirmed: int = 0
    cancelled: int = 0
    rejected: int = 0
    lost: int = 0
    """Accepted but with no terminal state on order-events by the drain deadline."""

    @property
    def terminal(self) -> int:
        return self.confirmed + self.cancelled + self.rejected


@dataclass
class ServiceRate:
    """Records one service wrote to its topics during the run (read back read_committed), and
    the CPU its processes burned (None when /proc cannot tell)."""

    service: str
    events: int
    events_per_s: float
    cpu_percent: float | None = None


@dataclass
class GroupLag:
    group: str
    peak: int
    final: int


@dataclass
class Volume:
    """Records and bytes (key + value + headers) the pipeline wrote, from the topics themselves."""

    records: int = 0
    bytes: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)

    @property
    def mean_size(self) -> int:
        return round(self.bytes / self.records) if self.records else 0


@dataclass
class Baseline:
    """Raw confluent-kafka produce→consume of the pipeline's record count and size, same broker."""

    messages: int
    message_bytes: int
    seconds: float
    msgs_per_s: float
    pipeline_events_per_s: float
    ratio: float
    """pipeline events/s ÷ raw msgs/s: the share of the broker's raw speed the services reach."""


@dataclass(frozen=True)
class Disruption:
    """One POST /orders that did not simply succeed: slower than DELAYED_SECONDS, retried
    (Retry-After, a refused connection), or refused in the end. Chaos counts these per fault."""

    at_ms: int
    """Wall clock (epoch ms) when its first attempt was sent."""
    seconds: float
    retries: int
    refused: str | None


DELAYED_SECONDS = 1.0
"""An order answered later than this counts as delayed (a normal one takes milliseconds)."""


@dataclass
class Cancels:
    """What became of the cancels the load planned."""

    picked: int = 0
    """Paying orders chosen for a cancel once CONFIRMED."""
    accepted: int = 0
    """POST /orders/{id}/cancel answered 200."""
    seen: int = 0
    """Of those, CONFIRMED → CANCELLED read back on order-events."""
    skipped: int = 0
    """Chosen orders that never reached CONFIRMED (cancelled by expiry, rejected, lost)."""
    refused: dict[str, int] = field(default_factory=dict)
    """Cancels the order service refused, by status and its sentence."""


@dataclass
class LoadReport:
    plan: LoadPlan
    started_ms: int = 0
    """Wall clock (epoch ms) when the first order was sent: `verify --since` starts here."""
    setup_seconds: float = 0.0
    """Registering and logging in the users, topping up stock: not part of the figures below."""
    send_seconds: float = 0.0
    """First order sent → last order answered."""
    wall_seconds: float = 0.0
    """First order sent → last accepted order terminal (or the drain deadline, if any was lost)."""
    settle_seconds: float = 0.0
    """First order sent → the last record the pipeline wrote for the run (the notifications and
    analytics of the last orders included): the window the per-service and pipeline rates are
    taken over."""
    settled: bool = True
    """False when the topics were still growing SETTLE_TIMEOUT after the last order ended
    (another client at work, or a service stuck retrying): the counts stop there."""
    orders_per_s: float = 0.0
    """Terminal orders ÷ wall_seconds."""
    sent_per_s: float = 0.0
    max_schedule_slip_ms: int = 0
    latency: Latency = field(default_factory=Latency)
    """Paying orders: OrderCreated → terminal OrderStatusChanged, from record timestamps."""
    failing_latency: Latency = field(default_factory=Latency)
    """Orders of users who cannot pay: includes the reservation TTL they wait out."""
    http_latency: Latency = field(default_factory=Latency)
    """POST /orders round trip as the driver saw it (a request-reply stock check included, when
    settings.stock_check asks for one)."""
    orders: Outcomes = field(default_factory=Outcomes)
    failing: Outcomes = field(default_factory=Outcomes)
    cancels: Cancels | None = None
    """`--cancel-paid`: the customers' cancels of confirmed orders (None: none planned)."""
    refused: dict[str, int] = field(default_factory=dict)
    """Orders that were never created, by reason (409 out of stock, 503, connection error…)."""
    setup_retries: int = 0
    """Set-up requests (register, login, stock) sent again after a Retry-After or a refused
    connection."""
    disruptions: list[Disruption] = field(default_factory=list)
    """Orders delayed, retried or refused, in the order they were sent."""
    lost_order_ids: list[str] = field(default_factory=list)
    """Up to 20 lost orders, to look at with `kafkalab trace ORDER_ID`."""
    services: list[ServiceRate] = field(default_factory=list)
    lags: list[GroupLag] = field(default_factory=list)
    volume: Volume = field(default_factory=Volume)
    pipeline_events_per_s: float = 0.0
    driver_cpu_percent: float | None = None
    broker_cpu_percent: float | None = None
    """CPU figures are percent of ONE core over the active phase (first order → last terminal)."""
    cpu_cores: int = 0
    machine_busy_percent: float | None = None
    """Of all cores: 100 means the machine had no idle time left."""
    broker_age_s: float | None = None
    """How long the youngest broker had run when the orders began (a young one is still
    JIT-compiling: see `cold_broker`)."""
    other_cpu_percent: float | None = None
    """Percent of a core used by processes that are neither the platform nor this driver
    (other work on the machine competing with the measurement)."""
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process label (services, broker, registry, driver) from the first order
    until the run's last record: the whole cost of the run, the settling tail included."""
    broker_requests: dict[str, int] = field(default_factory=dict)
    """Requests the broker(s) handled during the run, by type (Produce, FetchConsumer…), from
    the JMX exporter's `kafka_network_requestmetrics_requests_total`; empty without it."""
    order_ids: list[str] = field(default_factory=list, repr=False)
    """Every accepted order (left out of --json: the verifier takes them)."""

    @property
    def lost(self) -> int:
        return self.orders.lost + self.failing.lost

    @property
    def accepted(self) -> int:
        return self.orders.accepted + self.failing.accepted

    @property
    def cpu_s_per_1k_orders(self) -> dict[str, float]:
        return per_thousand_orders(self.cpu_seconds, self.accepted)

    @property
    def records_per_order(self) -> dict[str, float]:
        return records_per_order(self.volume.by_topic, self.accepted)

    @property
    def broker_requests_per_s(self) -> dict[str, float]:
        window = self.settle_seconds
        return {k: round(n / window, 1) for k, n in self.broker_requests.items()} if window else {}

    @property
    def all_terminal(self) -> bool:
        return self.lost == 0 and (self.orders.accepted + self.failing.accepted) > 0

    def to_jsonable(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        data.pop("order_ids", None)
        data["lost"] = self.lost
        data["cpu_s_per_1k_orders"] = self.cpu_s_per_1k_orders
        data["records_per_order"] = self.records_per_order
        data["broker_requests_per_s"] = self.broker_requests_per_s
        data["all_terminal"] = self.all_terminal
        return data


TOTAL = "total"
INTERNAL = "quixstreams internal"
"""analytics' facts (re-keying) and changelog topics, summed: the price of shop-wide windows
(a batch of facts per second, `services/analytics/facts.py`), apart from the events the
services publish."""


WARM_AFTER_S = 180.0
"""A broker younger than this is still JIT-compiling its hot paths: on a 2-core machine a cold
broker spent 7.7 CPU-s per 1,000 orders where the same broker, warm, spent 2.7–3.5."""


def cold_broker(report: LoadReport) -> str | None:
    """One sentence when the broker was too young for steady figures, else None."""
    age = report.broker_age_s
    if age is None or age >= WARM_AFTER_S:
        return None
    return (
        f"the broker had run {age:.0f} s when the orders began: the JVM was still compiling "
        "its hot code, which costs CPU the figures count (about twice the broker CPU per order "
        "in the first minutes) — run the load again for steady figures"
    )


def per_thousand_orders(seconds: dict[str, float], orders: int) -> dict[str, float]:
    """CPU seconds per 1,000 orders per process label, and their total. A figure that stays
    put when the machine is shared (wall-clock rates do not)."""
    if orders <= 0:
        return {}
    out = {label: round(s / orders * 1000, 2) for label, s in seconds.items()}
    out[TOTAL] = round(sum(seconds.values()) / orders * 1000, 2)
    return out


def records_per_order(by_topic: dict[str, int], orders: int) -> dict[str, float]:
    """Records written per order, by topic, with analytics' internal topics summed into one
    line and a total, largest first. Counts every record of the run, whoever caused it."""
    if orders <= 0:
        return {}
    grouped: dict[str, int] = {}
    for topic, n in by_topic.items():
        name = INTERNAL if topic.startswith(("repartition__", "changelog__")) else topic
        grouped[name] = grouped.get(name, 0) + n
    out = {t: round(n / orders, 2) for t, n in sorted(grouped.items(), key=lambda kv: -kv[1])}
    out[TOTAL] = round(sum(by_topic.values()) / orders, 2)
    return out
