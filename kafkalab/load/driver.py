"""Drive a load of orders through the running platform and measure what happened.

`run_load` registers and logs in the users, tops up stock, then worker threads (one keep-alive
HTTP connection each) send POST /orders on an open-loop schedule while order-events is watched
for each order's end. After the last order was answered it waits — at most the drain timeout —
for every accepted order to reach CONFIRMED, CANCELLED or REJECTED; then for every consumer
group to catch up, so the per-service figures include the notifications and analytics of the
last orders. Figures come from the topics (record timestamps, read_committed counts), not from
the services' own say-so.

It does not run the invariant checker: `kafkalab.load.run` does, and so does chaos.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from kafkalab.catalogue.services import SERVICES
from kafkalab.connection import Connection
from kafkalab.events.serde import now_ms
from kafkalab.events.topics import ORDER_EVENTS
from kafkalab.load import broker, sample, shop, volume
from kafkalab.load import plan as p
from kafkalab.load.cancel import Canceller
from kafkalab.load.outcome import LatencyRecorder, judge
from kafkalab.load.pacing import Schedule
from kafkalab.load.report import (
    DELAYED_SECONDS,
    Disruption,
    GroupLag,
    LoadReport,
    ServiceRate,
)
from kafkalab.load.watch import OrderWatch
from kafkalab.settings import Settings

PROGRESS_EVERY = 0.5
SETTLE_TIMEOUT = 30.0
LOST_IDS_SHOWN = 20


@dataclass
class Progress:
    """What the live display shows, handed to the caller every PROGRESS_EVERY seconds."""

    phase: str  # setup | sending | draining | settling | counting
    elapsed: float = 0.0
    planned: int = 0
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    confirmed: int = 0
    cancelled: int = 0
    rejected: int = 0
    in_flight: int = 0
    orders_per_s: float = 0.0
    """Orders that reached a terminal state per second, over the last interval."""
    lags: dict[str, int] = field(default_factory=dict)


OnProgress = Callable[[Progress], None]


class _Sent:
    """What the workers learnt from the HTTP answers (shared between the worker threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.paying: list[str] = []
        self.failing: list[str] = []
        self.refused: Counter[str] = Counter()
        self.disruptions: list[Disruption] = []
        self.http = LatencyRecorder()
        self.last_answer = 0.0

    def accepted(self) -> int:
        with self.lock:
            return len(self.paying) + len(self.failing)

    def ids(self) -> set[str]:
        with self.lock:
            return set(self.paying) | set(self.failing)


def run_load(
    settings: Settings,
    conn: Connection,
    orders: int = p.DEFAULT_ORDERS,
    rate: float | None = None,
    users: int = p.DEFAULT_USERS,
    fail_rate: float = 0.0,
    concurrency: int = p.DEFAULT_CONCURRENCY,
    drain_timeout: float | None = None,
    progress: OnProgress | None = None,
    cancel_paid: float = 0.0,
    stop: threading.Event | None = None,
) -> LoadReport:
    """Send the orders, wait for their ends, and return the figures (see the module docstring).

    Setting `stop` ends the sending early (`kafkalab soak` on Ctrl-C): the orders already
    accepted are still drained and counted.

    Raises KafkalabError (one sentence) when the plan is invalid or the platform cannot be set
    up for it; orders that fail once the load runs are counted, never raised.
    """
    plan = p.LoadPlan(
        orders, rate, users, fail_rate, concurrency, drain_timeout, cancel_paid
    ).validate()
    report = LoadReport(plan=plan)
    show = progress or (lambda _p: None)
    show(Progress("setup", planned=plan.orders))
    limits = httpx.Limits(
        max_connections=plan.concurrency + shop.SETUP_WORKERS,
        max_keepalive_connections=plan.concurrency + shop.SETUP_WORKERS,
    )
    began = time.monotonic()
    retried: list[int] = []
    with httpx.Client(timeout=shop.TIMEOUT, limits=limits) as http:
        customers = shop.customers(settings, http, plan, retried)
        shop.top_up_stock(settings, http, p.stock_needed(plan.orders), retried)
    report.setup_seconds = round(time.monotonic() - began, 2)
    report.setup_retries = sum(retried)

    before = volume.end_offsets(conn)
    watch = OrderWatch(conn, {part: off for (t, part), off in before.items() if t == ORDER_EVENTS})
    watch.start()
    lags = sample.LagSampler(conn)
    lags.sample()
    lags.start()
    processes = sample.platform_processes(settings)
    brokers = sum(1 for process in processes if process.label == "broker")
    requests_before = broker.request_counts(settings, brokers)
    cpu = sample.CpuMeter(processes)
    try:
        _send_and_drain(settings, plan, customers, report, watch, lags, show, stop)
        # CPU over the active phase (first order → last order terminal): what saturates.
        report_cpu(report, cpu.stop())
        # Let the pipeline finish the run's work: the last orders' notifications and
        # analytics are part of it. Quiet = no topic grew for a moment.
        show(Progress("settling", _since(report), plan.orders))
        after, report.settled = volume.wait_quiet(conn, timeout=SETTLE_TIMEOUT)
        # The whole cost of the run, settling tail included (wait_quiet's last quiet second
        # or so adds idle time only).
        report.cpu_seconds = cpu.seconds()
        report.broker_requests = broker.requests_between(
            requests_before, broker.request_counts(settings, brokers)
        )
        lags.sample()
    finally:
        lags.stop()
        watch.stop()
    _figures(conn, report, before, after, lags, show)
    return report


def _send_and_drain(
    settings: Settings,
    plan: p.LoadPlan,
    customers: list[shop.Customer],
    report: LoadReport,
    watch: OrderWatch,
    lags: sample.LagSampler,
    show: OnProgress,
    stop: threading.Event | None = None,
) -> None:
    """Send every order, then wait (at most the drain timeout) for each of them to end."""
    paying = [c for c in customers if c.can_pay]
    broke = [c for c in customers if not c.can_pay]
    sent = _Sent()
    schedule = Schedule(plan.orders, plan.rate)
    canceller = Canceller(settings, watch) if plan.cancel_paid else None

    def work(client: shop.OrderClient) -> None:
        try:
            while not (stop and stop.is_set()) and (index := schedule.take()) is not None:
                send(client, index)
        finally:
            client.close()

    def send(client: shop.OrderClient, index: int) -> None:
        fails = p.failing(index, plan.fail_rate) and bool(broke)
        pool = broke if fails or not paying else paying
        at_ms = now_ms()
        customer = pool[index % len(pool)]
        placed = client.place(customer, p.sku(index))
        with sent.lock:
            if placed.retries or placed.refused or placed.seconds >= DELAYED_SECONDS:
                sent.disruptions.append(
                    Disruption(at_ms, round(placed.seconds, 3), placed.retries, placed.refused)
                )
            sent.count += 1
            sent.last_answer = time.monotonic()
            if placed.order_id is None:
                sent.refused[placed.refused or "unknown"] += 1
            else:
                (sent.failing if fails else sent.paying).append(placed.order_id)
                if canceller and not fails and p.cancelling(len(sent.paying) - 1, plan.cancel_paid):
                    canceller.pick(placed.order_id, customer)
            if placed.seconds:
                sent.http.record(placed.seconds * 1000)

    clients = [shop.OrderClient(settings) for _ in range(plan.concurrency)]
    try:
        for client in clients:
            client.connect()
    except BaseException:
        for client in clients:
            client.close()
        raise
    workers = [
        threading.Thread(target=work, args=(client,), name=f"load-{i}", daemon=True)
        for i, client in enumerate(clients)
    ]
    schedule.restart()
    report.started_ms = now_ms()
    if canceller:
        canceller.start()
    for worker in workers:
        worker.start()
    start = schedule.start
    ticker = _Ticker(plan, sent, watch, lags, start, show)
    while any(w.is_alive() for w in workers):
        for worker in workers:
            worker.join(PROGRESS_EVERY / len(workers))
        ticker.tick("sending")
    report.send_seconds = round(sent.last_answer - start, 3)
    report.max_schedule_slip_ms = round(schedule.max_slip * 1000)

    accepted = sent.ids()
    deadline = time.monotonic() + plan.drain_seconds(settings.reservation_ttl)
    while watch.pending(accepted) and time.monotonic() < deadline:
        time.sleep(PROGRESS_EVERY)
        ticker.tick("draining")
    if canceller:
        report.cancels = canceller.finish(deadline)
    created, terminal = watch.snapshot()
    done_paying = judge(sent.paying, created, terminal)
    done_failing = judge(sent.failing, created, terminal)
    report.orders, report.latency = done_paying.outcomes, done_paying.latency
    report.failing, report.failing_latency = done_failing.outcomes, done_failing.latency
    report.http_latency = sent.http.summary()
    report.refused = dict(sorted(sent.refused.items()))
    report.disruptions = sorted(sent.disruptions, key=lambda d: d.at_ms)
    report.lost_order_ids = (done_paying.lost_ids + done_failing.lost_ids)[:LOST_IDS_SHOWN]
    report.order_ids = sorted(accepted)
    last_ms = max(done_paying.last_terminal_ms, done_failing.last_terminal_ms)
    if report.lost or not last_ms:
        report.wall_seconds = round(time.monotonic() - start, 3)
    else:
        report.wall_seconds = round(max(last_ms - report.started_ms, 1) / 1000, 3)
    terminal_count = report.orders.terminal + report.failing.terminal
    report.orders_per_s = round(terminal_count / report.wall_seconds, 1)
    report.sent_per_s = round(sent.count / report.send_seconds, 1) if report.send_seconds else 0.0


class _Ticker:
    """Builds a Progress from the shared state and hands it to the display."""

    def __init__(
        self,
        plan: p.LoadPlan,
        sent: _Sent,
        watch: OrderWatch,
        lags: sample.LagSampler,
        start: float,
        show: OnProgress,
    ) -> None:
        self.plan, self.sent, self.watch, self.lags = plan, sent, watch, lags
        self.start, self.show = start, show
        self._last = (start, 0)
        self._next = start

    def tick(self, phase: str) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PROGRESS_EVERY
        counts = self.watch.status_counts()
        with self.sent.lock:
            sent, accepted = self.sent.count, len(self.sent.paying) + len(self.sent.failing)
            refused = sum(self.sent.refused.values())
        terminal = sum(counts.values())
        then, before = self._last
        self._last = (now, terminal)
        self.show(
            Progress(
                phase,
                elapsed=round(now - self.start, 1),
                planned=self.plan.orders,
                sent=sent,
                accepted=accepted,
                refused=refused,
                confirmed=counts.get("CONFIRMED", 0),
                cancelled=counts.get("CANCELLED", 0),
                rejected=counts.get("REJECTED", 0),
                in_flight=max(accepted - terminal, 0),
                orders_per_s=round((terminal - before) / (now - then), 1) if now > then else 0.0,
                lags=self.lags.snapshot(),
            )
        )


def _figures(
    conn: Connection,
    report: LoadReport,
    before: volume.Offsets,
    after: volume.Offsets,
    lags: sample.LagSampler,
    show: OnProgress,
) -> None:
    """Per-service rates, lag peaks, and the pipeline's volume (read after the run)."""
    show(Progress("counting", _since(report), report.plan.orders))
    counted = volume.count_between(conn, before, after)
    report.volume = counted.volume
    last = max(counted.last_timestamp_ms, report.started_ms + 1)
    window = report.settle_seconds = round((last - report.started_ms) / 1000, 3)
    report.pipeline_events_per_s = round(counted.volume.records / window, 1)
    cpu = {s.service: s.cpu_percent for s in report.services}
    report.services = [
        ServiceRate(
            name,
            counted.by_service.get(name, 0),
            round(counted.by_service.get(name, 0) / window, 1),
            cpu.get(name),
        )
        for name in SERVICES
    ]
    final = lags.snapshot()
    report.lags = [
        GroupLag(group, lags.peak.get(group, 0), final.get(group, 0)) for group in sample.GROUPS
    ]


def report_cpu(report: LoadReport, usage: sample.CpuUsage) -> None:
    """Percent of a core per service (replicas summed), the broker, this driver, the machine."""
    report.services = [ServiceRate(name, 0, 0.0, usage.by_label.get(name)) for name in SERVICES]
    report.driver_cpu_percent = usage.by_label.get("driver")
    report.broker_cpu_percent = usage.by_label.get("broker")
    report.cpu_cores = usage.cores
    report.machine_busy_percent = usage.machine_busy_percent
    report.other_cpu_percent = usage.others_percent
    report.broker_age_s = usage.broker_age_s


def _since(report: LoadReport) -> float:
    return round((now_ms() - report.started_ms) / 1000, 1)
