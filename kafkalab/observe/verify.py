"""The invariant checker: read every platform topic back and prove nothing was lost or doubled.

Scenarios, load and chaos runs all end here. The judgement never asks a service: it reads
Kafka (read_committed, so aborted transactions do not count) and checks, per order created in
the window:

1. terminal       — it reached CONFIRMED, CANCELLED or REJECTED, once, and stayed there
                    (an order still in flight, or one with no OrderCreated at all, is a violation);
                    the one exception: its customer cancelled it once CONFIRMED (CONFIRMED →
                    CANCELLED, reason customer_cancelled), which ends it a second time, for good
2. one payment    — at most one PaymentCompleted on `payments`
3. stock          — what was reserved was committed or released, exactly once, item for item
                    (no InventoryReserved → no StockCommitted/StockReleased); what was sold
                    is returned (StockReturned) once, item for item, if and only if the
                    customer cancelled the order after it was confirmed
4. notifications  — one NotificationSent per channel per notifiable transition (→ CONFIRMED,
                    PENDING_PAYMENT, CANCELLED); the channels are those the notification service
                    requested (a user without a phone gets no sms), and only opted-in ones
                    count: a channel the user had opted out of (UserPreferencesUpdated on
                    `user-events`) when the order was created must get nothing
5. causes         — every causation_id names an event that is on the topics
6. analytics      — the latest running `orders_total` / `revenue_total_cents` equal the orders
                    on `order-events` (all of them: the running totals count since the analytics
                    app started, which is the whole topic when it starts with the platform);
                    over a window, what the totals grew by equals the orders created in it

A seventh rule, `refunds_invariant` ("every refund once, none for an unpaid order"), judges a
refund service (lesson 22's capstone, run in the shop by `kafkalab up --with refund`) over
`refund_cases()`: `evaluate()` adds it when a RefundIssued of an order in scope is on
`refunds`, or when the caller says a refund service runs; lesson 22's grader calls it on its
own topics.

`evaluate()` is pure (events in, report out) so each rule is unit-tested on synthetic events;
`verify()` reads the topics (`observe/readback.py`: with a window, only from its start — its
docstring says what is read and why) and calls it; `verify_orders()` waits for a run to settle.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer

from kafkalab import verdict
from kafkalab.catalogue.services import CHANNELS, CUSTOMER_CANCELLED, TEMPLATES
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events import topics as t
from kafkalab.events.fastdecode import FastDecoder
from kafkalab.events.schema_client import SchemaClient
from kafkalab.events.serde import Event
from kafkalab.observe import reach, readback

TERMINAL = ("CONFIRMED", "CANCELLED", "REJECTED")
MAX_EXAMPLES = 5
READ_TIMEOUT = 180.0

# The look-back for causes (ms). With a window (--since), the topics are read from the window's
# start; an order created in the window has every later event in it too, but its OrderCreated
# names the stock-check reply that admitted it (settings.stock_check "request-reply"; none with
# the stock table), which order waited for at most `request_timeout` (5 s) before the window
# began. When a cause of a judged event is missing,
# the topics are read this much further back (once) before anything is called unknown.
CAUSE_LOOKBACK_MS = 30 * 1000
# On `analytics`, this many records before the window are read too: the last running totals
# before it, from which the window's growth is measured (see `_analytics`).
ANALYTICS_BEFORE = 300
RUNNING_METRICS = ("orders_total", "revenue_total_cents")

# Read whole even with a window: a user's channel choice holds until changed, however long
# ago it was made (a small topic: registrations, logins, preferences).
WHOLE_TOPICS = (t.USER_EVENTS,)
# Read from the window's start: everything an order causes, and the copies (channel topics,
# payments.retry) that are the causes of the next step.
WINDOW_TOPICS = (
    t.ORDER_EVENTS,
    t.INVENTORY_REQUESTS,
    t.INVENTORY_REPLIES,
    t.INVENTORY_EVENTS,
    t.STOCK,
    t.PAYMENTS,
    t.PAYMENTS_RETRY,
    t.NOTIFICATIONS,
    *t.CHANNEL_TOPICS.values(),
    t.REFUNDS,  # read when it exists: the refund service's output (lesson 22)
)

TERMINAL_STATE = "terminal state"
ONE_PAYMENT = "at most one payment"
STOCK_BALANCED = "stock reserved = committed + released"
NOTIFICATIONS = "one notification per channel"
KNOWN_CAUSES = "every cause is on the topics"
ANALYTICS_TOTALS = "analytics totals"


@dataclass(frozen=True, kw_only=True)
class Invariant(verdict.Check):
    """One rule, judged over everything in the window: a Check with its counts.

    ok is None when the rule could not be judged (no analytics results yet): shown as `!`,
    not counted as a failure, and said out loud in `detail` rather than passed silently.
    `detail` describes the rule; `examples` say where it broke.
    """

    checked: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)  # "ORDER_ID: what is wrong", up to 5
    surplus: int = 0
    """Analytics totals only: orders counted beyond those on order-events, when over-counting
    is the only thing wrong (at-least-once: input read again after a crash counts twice,
    lesson 16). 0 when the totals hold, or fall short."""

    def to_jsonable(self) -> dict[str, Any]:
        """`surplus` only where there is one: it belongs to one rule of all of them."""
        data = super().to_jsonable()
        if not self.surplus:
            del data["surplus"]
        return data


@dataclass
class VerifyReport:
    """What the topics say about every order in the window, and each invariant's verdict."""

    since_ms: int | None
    orders: int  # orders checked
    revenue_cents: int  # total of the checked orders that ended CONFIRMED
    outcomes: dict[str, int]  # final status → orders (MISSING: no OrderCreated at all)
    events: int  # records read from the topics (decoded or not)
    invariants: list[Invariant]
    read_seconds: float = 0.0
    read_from_ms: int | None = None  # the window's topics were read from here (None: whole)
    lookback_ms: int = 0  # how much further back the look-back for causes read (0: not needed)
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = verdict.passed(self.invariants)

    def invariant(self, name: str) -> Invariant:
        return next(i for i in self.invariants if i.name == name)


# -- the pure core ------------------------------------------------------------------------------


@dataclass
class _Order:
    """Every event of one order that some invariant looks at, by kind."""

    order_id: str
    created: list[Event] = field(default_factory=list)
    changes: list[Event] = field(default_factory=list)
    payments: list[Event] = field(default_factory=list)
    reserved: list[Event] = field(default_factory=list)
    committed: list[Event] = field(default_factory=list)
    released: list[Event] = field(default_factory=list)
    returned: list[Event] = field(default_factory=list)
    out_of_stock: list[Event] = field(default_factory=list)
    requested: list[Event] = field(default_factory=list)
    sent: list[Event] = field(default_factory=list)

    def statuses(self) -> list[str]:
        ordered = sorted(self.changes, key=lambda e: (e.timestamp_ms, e.offset))
        return [str(e.value.get("to_status")) for e in ordered]

    def customer_cancel(self) -> Event | None:
        """The change that ended the order a second time, legally: its customer cancelled it
        once CONFIRMED (CONFIRMED → CANCELLED for the customer's reason), as the last step."""
        ordered = sorted(self.changes, key=lambda e: (e.timestamp_ms, e.offset))
        if not ordered:
            return None
        last = ordered[-1].value
        if (last.get("from_status"), last.get("to_status"), last.get("reason")) == (
            "CONFIRMED",
            "CANCELLED",
            CUSTOMER_CANCELLED,
        ):
            return ordered[-1]
        return None

    def final(self) -> str:
        if not self.created:
            return "MISSING"
        statuses = self.statuses()
        return statuses[-1] if statuses else "CREATED"


# (topic, type) → the _Order list it belongs in. Copies of the same type on other topics
# (InventoryReserved on payments.retry) are not facts. A NotificationRequested is written once,
# on its channel's topic (older records also have a copy on `notifications`, with the same
# notification_id: the check counts ids, so reading both changes nothing).
_KINDS = {
    (t.ORDER_EVENTS, "OrderCreated"): "created",
    (t.ORDER_EVENTS, "OrderStatusChanged"): "changes",
    (t.PAYMENTS, "PaymentCompleted"): "payments",
    (t.INVENTORY_EVENTS, "InventoryReserved"): "reserved",
    (t.INVENTORY_EVENTS, "StockCommitted"): "committed",
    (t.INVENTORY_EVENTS, "StockReleased"): "released",
    (t.INVENTORY_EVENTS, "StockReturned"): "returned",
    (t.INVENTORY_EVENTS, "OutOfStock"): "out_of_stock",
    (t.NOTIFICATIONS, "NotificationRequested"): "requested",
    **{(topic, "NotificationRequested"): "requested" for topic in t.CHANNEL_TOPICS.values()},
    (t.NOTIFICATIONS, "NotificationSent"): "sent",
}


class _Tally:
    """Counts one invariant's checks and violations and keeps the first few examples."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checked = 0
        self.violations = 0
        self.examples: list[str] = []

    def check(self, problem: str | None, subject: str) -> None:
        self.checked += 1
        if problem is not None:
            self.violations += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(f"{subject}: {problem}")

    def flag(self, problem: str, subject: str) -> None:
        """A violation found beside the checks (e.g. a message nobody asked for)."""
        self.violations += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{subject}: {problem}")

    def result(self, detail: str) -> Invariant:
        return Invariant(
            name=self.name,
            ok=self.violations == 0,
            detail=detail,
            checked=self.checked,
            violations=self.violations,
            examples=self.examples,
        )


def evaluate(
    events: Iterable[Event],
    since_ms: int | None = None,
    order_ids: Collection[str] | None = None,
    read_from_ms: int | None = None,
    refunds: bool | None = None,
) -> VerifyReport:
    """Judge `events` (everything read from the topics): the orders created at or after
    `since_ms` — or exactly `order_ids`, when given (an id with no OrderCreated is a lost
    order) — against the six invariants, and the refund rule when `refunds` (None: when a
    RefundIssued of an order in scope is among the events).

    `read_from_ms` says the events are a window: the topics were read from the first record
    stamped at or after it (None: from their start). Then an order that began before it is
    not judged — its first events were not read — even when it ends inside the window: only
    its own rules could judge it and they need its whole history. Causes are judged for the
    events of the orders in scope, and analytics by how much its running totals grew.
    """
    events = list(events)
    orders: dict[str, _Order] = {}
    analytics: list[Event] = []
    choices = Choices()
    for event in events:
        kind = _KINDS.get((event.topic, event.type))
        if kind is not None and event.value.get("order_id"):
            oid = str(event.value["order_id"])
            getattr(orders.setdefault(oid, _Order(oid)), kind).append(event)
        elif event.topic == t.ANALYTICS and event.type == "AnalyticsWindow":
            analytics.append(event)
        elif event.topic == t.USER_EVENTS and event.type == "UserPreferencesUpdated":
            choices.add(event)

    if order_ids is not None:
        scope = [orders.get(oid) or _Order(oid) for oid in dict.fromkeys(order_ids)]
    else:
        scope = [
            o
            for o in orders.values()
            if o.created and (since_ms is None or o.created[0].timestamp_ms >= since_ms)
        ]
    scope.sort(key=lambda o: (o.created[0].timestamp_ms if o.created else 0, o.order_id))
    in_window = [e for e in events if since_ms is None or e.timestamp_ms >= since_ms]
    scoped = order_ids is not None or read_from_ms is not None

    invariants = [
        _terminal(scope),
        _one_payment(scope),
        _stock(scope),
        _notifications(scope, choices),
        _causes(events, _scoped_events(in_window, scope) if scoped else in_window),
        _analytics(orders, analytics, read_from_ms),
    ]
    cases = _scoped_refund_cases(events, scope)
    if refunds or (refunds is None and any(c.refunds for c in cases)):
        invariants.append(refunds_invariant(cases))
    outcomes = Counter(o.final() for o in scope)
    revenue = sum(_total(o) for o in scope if o.final() == "CONFIRMED")
    return VerifyReport(
        since_ms,
        len(scope),
        revenue,
        dict(outcomes),
        len(events),
        invariants,
        read_from_ms=read_from_ms,
    )


def _total(order: _Order) -> int:
    return int(order.created[0].value.get("total_cents", 0)) if order.created else 0


def _terminal(scope: list[_Order]) -> Invariant:
    tally = _Tally(TERMINAL_STATE)
    for order in scope:
        tally.check(_terminal_problem(order), order.order_id)
    return tally.result("CONFIRMED, CANCELLED or REJECTED, once, for good")


def _terminal_problem(order: _Order) -> str | None:
    if not order.created:
        return "no OrderCreated on order-events (lost)"
    statuses = order.statuses()
    reached = [s for s in statuses if s in TERMINAL]
    if not reached:
        path = " → ".join(["CREATED", *statuses])
        return f"still in flight ({path})"
    if len(reached) > 1 and not (
        reached == ["CONFIRMED", "CANCELLED"] and order.customer_cancel() is not None
    ):
        return f"reached a terminal state {len(reached)} times ({', '.join(reached)})"
    if statuses[-1] not in TERMINAL:
        return f"left {reached[0]} for {statuses[-1]}"
    return None


def _one_payment(scope: list[_Order]) -> Invariant:
    tally = _Tally(ONE_PAYMENT)
    for order in scope:
        problem = None
        if len(order.payments) > 1:
            amounts = " + ".join(_money(e.value.get("amount_cents")) for e in order.payments)
            problem = f"{len(order.payments)} PaymentCompleted (charged {amounts})"
        tally.check(problem, order.order_id)
    return tally.result(f"≤ 1 PaymentCompleted per order on {t.PAYMENTS}")


def _stock(scope: list[_Order]) -> Invariant:
    tally = _Tally(STOCK_BALANCED)
    for order in scope:
        tally.check(_stock_problem(order), order.order_id)
    return tally.result(
        "each reservation committed or released once, item for item; a sale its customer "
        "cancelled returned once"
    )


def _stock_problem(order: _Order) -> str | None:
    settled = len(order.committed) + len(order.released)
    if not order.reserved:
        if order.returned:
            return f"{len(order.returned)} return(s) of stock never reserved"
        if settled:
            return f"{settled} commit/release without a reservation"
        return None
    if order.out_of_stock:
        return "both InventoryReserved and OutOfStock"
    if len(order.reserved) > 1:
        return f"reserved {len(order.reserved)} times"
    reserved = _items(order.reserved)
    out = _items(order.committed) + _items(order.released)
    if settled != 1 or out != reserved:
        return (
            f"reserved {_describe(reserved)}, committed {_describe(_items(order.committed))}, "
            f"released {_describe(_items(order.released))}"
        )
    return _return_problem(order)


def _return_problem(order: _Order) -> str | None:
    """Sold stock goes back once, item for item, when (and only when) the customer cancelled
    the confirmed order."""
    returned = _items(order.returned)
    if order.customer_cancel() is None:
        if order.returned:
            return f"returned {_describe(returned)}, but its customer never cancelled it"
        return None
    sold = _items(order.committed)
    if len(order.returned) != 1 or returned != sold:
        times = f"{len(order.returned)} times" if len(order.returned) != 1 else "once"
        return (
            f"cancelled by its customer: sold {_describe(sold)}, returned {_describe(returned)} "
            f"({times})"
        )
    return None


def _items(events: list[Event]) -> Counter[str]:
    total: Counter[str] = Counter()
    for event in events:
        for item in event.value.get("items") or []:
            total[str(item.get("sku"))] += int(item.get("quantity", 0))
    return total


def _describe(items: Counter[str]) -> str:
    return ", ".join(f"{qty}×{sku}" for sku, qty in sorted(items.items())) or "nothing"


class Choices:
    """Each user's channel opt-outs over time, from their UserPreferencesUpdated events."""

    def __init__(self) -> None:
        self._history: dict[str, list[tuple[int, int, frozenset[str]]]] = {}

    def add(self, event: Event) -> None:
        channels = (event.value.get("preferences") or {}).get("channels") or {}
        out = frozenset(str(c) for c, wanted in channels.items() if wanted is False)
        history = self._history.setdefault(str(event.value.get("user_id")), [])
        history.append((event.timestamp_ms, event.offset, out))
        history.sort(key=lambda h: (h[0], h[1]))

    def opted_out(self, user_id: str, since_ms: int, until_ms: int) -> frozenset[str]:
        """The channels the user had turned off at `since_ms` (the order's creation) and kept
        off through every change up to `until_ms` (the notification's request): those must get
        nothing. A channel switched in between may have been seen either way, so it is not
        judged."""
        history = self._history.get(user_id, [])
        before = [out for at, _, out in history if at <= since_ms]
        out = before[-1] if before else frozenset()
        for at, _, changed in history:
            if since_ms < at <= until_ms:
                out &= changed
        return out


def _notifications(scope: list[_Order], choices: Choices | None = None) -> Invariant:
    """Per notifiable transition: the requests it caused (by causation_id) name the channels;
    only the channels the user had not opted out of count — a request on an opted-out one is a
    message the user said no to; each requested notification_id must be sent exactly once; a
    send nobody requested is an extra message."""
    choices = choices or Choices()
    tally = _Tally(NOTIFICATIONS)
    for order in scope:
        sent = Counter(str(e.value.get("notification_id")) for e in order.sent)
        requested_ids: set[str] = set()
        created = order.created[0].timestamp_ms if order.created else 0
        user_id = str(order.created[0].value.get("user_id")) if order.created else ""
        for change in sorted(order.changes, key=lambda e: (e.timestamp_ms, e.offset)):
            template = TEMPLATES.get(str(change.value.get("to_status")))
            if template is None:
                continue
            requests = [e for e in order.requested if e.causation_id == change.event_id]
            requested_ids |= {str(e.value.get("notification_id")) for e in requests}
            asked = max((e.timestamp_ms for e in requests), default=change.timestamp_ms)
            refused = choices.opted_out(user_id, created, asked)
            tally.check(_notification_problem(template, requests, sent, refused), order.order_id)
        extra = sum(n for nid, n in sent.items() if nid not in requested_ids)
        if extra:
            tally.flag(f"{extra} NotificationSent never requested", order.order_id)
    return tally.result(
        "one NotificationSent per requested, opted-in channel of each notifiable transition"
    )


def _notification_problem(
    template: str,
    requests: list[Event],
    sent: Counter[str],
    opted_out: Collection[str] = frozenset(),
) -> str | None:
    unwanted = sorted({str(e.value.get("channel")) for e in requests} & set(opted_out))
    if unwanted:
        return f"{template}: {', '.join(unwanted)} requested though the user opted out"
    if not requests:
        if set(opted_out) >= set(CHANNELS):
            return None  # the user turned every channel off: nothing is what they asked for
        return f"{template}: nothing requested"
    wrong = sorted({str(e.value.get("template")) for e in requests} - {template})
    if wrong:
        return f"{template}: requested as {', '.join(wrong)}"
    by_channel: dict[str, set[str]] = {}
    for request in requests:
        channel = str(request.value.get("channel"))
        by_channel.setdefault(channel, set()).add(str(request.value.get("notification_id")))
    problems = []
    for channel, ids in sorted(by_channel.items()):
        count = sum(sent[i] for i in ids)
        if len(ids) > 1:
            problems.append(f"{channel} requested {len(ids)} times")
        elif count != 1:
            problems.append(f"{channel} sent {count} times")
    return f"{template}: {', '.join(problems)}" if problems else None


def _scoped_events(events: list[Event], scope: list[_Order]) -> list[Event]:
    """The events of the orders in scope: theirs by order_id, and — by trace_id — the events
    of the same user action that name no order (the stock check, stock levels)."""
    ids = {o.order_id for o in scope}
    mine = [e for e in events if str(e.value.get("order_id", "")) in ids]
    traces = {e.trace_id for e in mine if e.trace_id}
    return mine + [e for e in events if not e.value.get("order_id") and e.trace_id in traces]


def _causes(everything: list[Event], judged: list[Event]) -> Invariant:
    tally = _Tally(KNOWN_CAUSES)
    known = {e.event_id for e in everything if e.event_id}
    for event in judged:
        cause = event.causation_id
        problem = None
        if cause and cause not in known:
            where = f"{event.topic}[{event.partition}]@{event.offset}"
            problem = f"{event.type} at {where} names cause {cause}, which no topic holds"
        subject = str(event.value.get("order_id") or event.key or event.type)
        tally.check(problem, subject)
    return tally.result("every causation_id names an event read")


def _later(a: Event, b: Event) -> bool:
    if a.topic == b.topic and a.partition == b.partition:
        return a.offset > b.offset
    return a.timestamp_ms > b.timestamp_ms


@dataclass(frozen=True)
class _Anchor:
    """Where one running total is measured from: its value `base` just before a cut in the
    results, the orders that count (created after `after_ms`; None: every order) and the
    latest result."""

    base: float
    after_ms: int | None
    latest: Event


def _anchor(results: list[Event], read_from_ms: int | None) -> _Anchor | None:
    """The running total to measure from (see `_analytics`); None: no result at all."""
    if not results:
        return None
    if read_from_ms is None:
        latest = results[0]
        for result in results[1:]:
            if _later(result, latest):
                latest = result
        return _Anchor(0.0, None, latest)
    # One metric's results share a partition (keyed by metric): its offsets are the order in
    # which analytics applied its input. Should there be more, the newest partition counts.
    newest = max(results, key=lambda e: e.timestamp_ms).partition
    ordered = sorted((e for e in results if e.partition == newest), key=lambda e: e.offset)
    stamps = [e.timestamp_ms for e in ordered]
    suffix_min = stamps[:] + [2**63]
    for i in range(len(stamps) - 1, -1, -1):
        suffix_min[i] = min(stamps[i], suffix_min[i + 1])
    highest = stamps[0]
    for k in range(1, len(ordered) + 1):
        highest = max(highest, stamps[k - 1])
        if suffix_min[k] >= read_from_ms and highest < suffix_min[k]:
            value = float(ordered[k - 1].value.get("value", 0))
            return _Anchor(value, max(highest, read_from_ms - 1), ordered[-1])
    raise AssertionError("the cut after the last result always holds")


def _analytics(
    orders: dict[str, _Order], windows: list[Event], read_from_ms: int | None = None
) -> Invariant:
    """The latest running totals against the orders on order-events (distinct order ids, each
    counted once with its OrderCreated total).

    Read whole (`read_from_ms` None), the totals count every order ever created. Read as a
    window, the earlier orders were not read, so the rule is about growth. A *cut* in a
    metric's results where every result after it is stamped later than every result before
    it (and at or after the window's start; records before the window's start are all
    stamped earlier) splits the input: latest − the value before the earliest such cut must
    equal the orders created after the last stamp before it, all of them in the window's
    read. The cut after the last result always exists: the check then says whether analytics
    is behind. This holds because analytics writes every change of these two running totals,
    stamped with the time of the input that made it, in the order it applied them
    (`services/analytics/emit.py::LEDGER`); its other figures are written once a second.
    """
    windowed = read_from_ms is not None
    counted = [o for o in orders.values() if o.created]
    running: dict[str, list[Event]] = {m: [] for m in RUNNING_METRICS}
    for window in windows:
        metric = str(window.value.get("metric"))
        if metric in running and window.value.get("window") == "running":
            running[metric].append(window)
    anchors = {m: _anchor(results, read_from_ms) for m, results in running.items()}
    if all(a is None for a in anchors.values()):
        if not counted:
            nothing = "in the window, no results" if windowed else "yet, no results yet"
            return Invariant(name=ANALYTICS_TOTALS, ok=True, detail=f"no orders {nothing}")
        return Invariant(
            name=ANALYTICS_TOTALS,
            ok=None,
            detail=f"no running totals on `{t.ANALYTICS}` yet for {len(counted)} orders — is the "
            "analytics service running? (`kafkalab ps`)",
        )
    tally = _Tally(ANALYTICS_TOTALS)
    summary = f"{len(counted)} orders / {_money(sum(_total(o) for o in counted))}"
    surplus, short = 0, False
    for metric, anchor in anchors.items():
        if anchor is None:
            total = len(counted) if metric == "orders_total" else sum(_total(o) for o in counted)
            tally.check(f"analytics says nothing, topics say {total} (behind?)", metric)
            short = True
            continue
        mine = [o for o in counted if anchor.after_ms is None or _created_ms(o) > anchor.after_ms]
        expected = len(mine) if metric == "orders_total" else sum(_total(o) for o in mine)
        got = round(float(anchor.latest.value.get("value", 0)) - anchor.base)
        problem = None
        if got != expected:
            says = "says" if anchor.after_ms is None else "grew by"
            problem = f"analytics {says} {got}, topics say {expected}"
            if got < expected:
                problem += " (behind? `kafkalab lag kafkalab-analytics`)"
                short = True
            elif metric == "orders_total":
                surplus = got - expected
        tally.check(problem, metric)
        if metric == "orders_total":
            since = "" if anchor.after_ms is None else f" created after {_clock(anchor.after_ms)}"
            summary = f"{len(mine)} orders / {_money(sum(_total(o) for o in mine))}{since}"
    if not windowed:
        detail = f"{summary} on {t.ORDER_EVENTS} = the latest running totals"
    else:
        detail = f"{summary} on {t.ORDER_EVENTS} = what the running totals grew by"
    return replace(tally.result(detail), surplus=0 if short else surplus)


def _created_ms(order: _Order) -> int:
    return min(e.timestamp_ms for e in order.created)


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S.%f")[:-3]


# -- refunds ------------------------------------------------------------------------------------

REFUNDS = "every refund once, none for an unpaid order"


@dataclass
class RefundCase:
    """One order as a refund service must see it: paid (PaymentCompleted amounts), cancelled
    (an OrderStatusChanged to CANCELLED), and the refunds issued for it (RefundIssued amounts)."""

    order_id: str
    paid: list[int] = field(default_factory=list)
    cancelled: bool = False
    refunds: list[int] = field(default_factory=list)

    @property
    def owed(self) -> bool:
        """Paid and then cancelled: exactly one refund of the payment is owed."""
        return self.cancelled and bool(self.paid)

    def problem(self) -> str | None:
        if self.owed:
            if len(self.refunds) != 1:
                return (
                    f"paid {_money(self.paid[0])} and cancelled, refunded {len(self.refunds)} times"
                )
            if self.refunds[0] != self.paid[0]:
                return f"refunded {_money(self.refunds[0])} of a {_money(self.paid[0])} payment"
            return None
        if self.refunds and not self.paid:
            return f"refunded {len(self.refunds)} time(s), but never paid"
        if self.refunds:
            return f"refunded {len(self.refunds)} time(s), but not cancelled"
        return None


def refund_cases(
    events: Iterable[Event], orders_topic: str, payments_topic: str, refunds_topic: str
) -> dict[str, RefundCase]:
    """Every order that was paid, cancelled or refunded, from the three topics' events (the
    platform's `order-events` and `payments`, or a lesson's copies of them)."""
    cases: dict[str, RefundCase] = {}
    for event in events:
        oid = str(event.value.get("order_id") or "")
        if not oid:
            continue
        case = cases.setdefault(oid, RefundCase(oid))
        if event.topic == payments_topic and event.type == "PaymentCompleted":
            case.paid.append(int(event.value.get("amount_cents", 0)))
        elif event.topic == orders_topic and event.type == "OrderStatusChanged":
            case.cancelled |= event.value.get("to_status") == "CANCELLED"
        elif event.topic == refunds_topic and event.type == "RefundIssued":
            case.refunds.append(int(event.value.get("amount_cents", 0)))
    return {oid: c for oid, c in cases.items() if c.paid or c.cancelled or c.refunds}


def _scoped_refund_cases(events: list[Event], scope: list[_Order]) -> list[RefundCase]:
    """The refund cases of the platform's orders in scope (a refund of an order outside the
    window is another window's business)."""
    cases = refund_cases(events, t.ORDER_EVENTS, t.PAYMENTS, t.REFUNDS)
    return [cases[o.order_id] for o in scope if o.order_id in cases]


def refunds_invariant(cases: Iterable[RefundCase]) -> Invariant:
    """Each order paid and then cancelled is refunded once, for what it paid; an order never
    paid (or not cancelled) is never refunded."""
    tally = _Tally(REFUNDS)
    for case in sorted(cases, key=lambda c: c.order_id):
        tally.check(case.problem(), case.order_id)
    return tally.result("one RefundIssued of the payment per order paid and then cancelled")


def _money(cents: Any) -> str:
    return f"{int(cents or 0) / 100:.2f}"


# -- reading the topics -------------------------------------------------------------------------


def verify(
    conn: Connection,
    since_ms: int | None = None,
    order_ids: Collection[str] | None = None,
    refunds: bool | None = None,
) -> VerifyReport:
    """Read the platform topics back (read_committed, to their ends) and evaluate them.

    Without `since_ms`, every topic is read whole. With it, the read costs what the window
    holds, not the topics' history:

    - every event topic is read from the first record stamped at or after `since_ms`
      (offsets_for_times), to its end;
    - `analytics` from there too, plus the `ANALYTICS_BEFORE` records just before it (the
      running totals the window's growth is measured from), decoding only the running totals;
    - `user-events` whole: a channel choice holds however old it is (a small topic);
    - a look-back for causes, only when needed: if some event of an order in scope names a
      cause that was not read, the event topics are read `CAUSE_LOOKBACK_MS` (30 s) further
      back, to where the window began — the stock-check reply an OrderCreated names (with
      stock_check "request-reply") is at most `request_timeout` (5 s) older than it.

    `order_ids` narrows the orders judged to exactly these. Orders created before the window
    are not judged, even when they end inside it (see `evaluate`). `refunds`: see `evaluate`.
    """
    reach.topic_names(conn)
    reach.require_registry(conn)
    started = time.monotonic()
    consumer = readback.reader(conn)
    decoder = FastDecoder(SchemaClient(conn))
    with readback.no_cycle_collection():
        report, read, lookback = _read_and_judge(consumer, decoder, since_ms, order_ids, refunds)
    report.events = read.records
    report.lookback_ms = lookback
    report.read_seconds = round(time.monotonic() - started, 3)
    return report


def _read_and_judge(
    consumer: Consumer,
    decoder: FastDecoder,
    since_ms: int | None,
    order_ids: Collection[str] | None,
    refunds: bool | None = None,
) -> tuple[VerifyReport, readback.ReadBack, int]:
    """Read the window (and, when needed, the look-back for causes) and evaluate it."""
    lookback = 0
    try:
        window = readback.spans(consumer, WINDOW_TOPICS, since_ms)
        lead = ANALYTICS_BEFORE if since_ms is not None else 0
        spans = [
            *readback.spans(consumer, WHOLE_TOPICS),
            *window,
            *readback.spans(consumer, (t.ANALYTICS,), since_ms, lead=lead),
        ]
        read = readback.read(consumer, decoder, spans, keep=_needed, timeout=READ_TIMEOUT)
        report = evaluate(read.events, since_ms, order_ids, since_ms, refunds)
        if (
            since_ms is not None
            and report.invariant(KNOWN_CAUSES).violations
            and _early_cause_missing(read.events, since_ms)
        ):
            lookback = CAUSE_LOOKBACK_MS
            starts = {(s.topic, s.partition): s.start for s in window}
            earlier_spans = [
                replace(s, end=starts.get((s.topic, s.partition), s.end))
                for s in readback.spans(consumer, WINDOW_TOPICS, since_ms - lookback, since_ms)
            ]
            read.add(
                readback.read(
                    consumer,
                    decoder,
                    [s for s in earlier_spans if s.end is None or s.start < s.end],
                    timeout=READ_TIMEOUT,
                )
            )
            report = evaluate(read.events, since_ms, order_ids, since_ms, refunds)
    finally:
        consumer.close()
    return report, read, lookback


def _early_cause_missing(events: list[Event], since_ms: int) -> bool:
    """Does an event of the window's first CAUSE_LOOKBACK_MS name a cause that was not read?

    Only those can have their cause before the window: every later event of an order in
    scope follows its OrderCreated, itself at most `request_timeout` after its stock check. A
    cause missing later than that is no look-back's business (a race with a run still
    writing, or a real violation).
    """
    early = since_ms + CAUSE_LOOKBACK_MS
    known = {e.event_id for e in events}
    return any(
        e.causation_id and e.causation_id not in known
        for e in events
        if since_ms <= e.timestamp_ms < early
    )


def _needed(topic: str, key: bytes | None) -> bool:
    """Decode this record? Of `analytics` only the running totals are judged (by key: the
    metric); everything else may be an event or a cause."""
    return topic != t.ANALYTICS or (key or b"").decode(errors="replace") in RUNNING_METRICS


def verify_orders(
    conn: Connection,
    order_ids: Collection[str] | None = None,
    since_ms: int | None = None,
    settle_seconds: float = 30.0,
    notify: Callable[[str], None] | None = None,
    refunds: bool | None = None,
) -> VerifyReport:
    """Verify a run's orders, re-reading until every invariant holds or `settle_seconds` pass.

    The pipeline is asynchronous — notifications and analytics trail the order by a moment —
    so a run that just finished is given time to settle; what still fails after that is the
    verdict. `order_ids` are the orders the run placed (None: every order since `since_ms`);
    `since_ms` (the run's start) keeps the read short on a long-lived cluster.
    """
    deadline = time.monotonic() + settle_seconds
    while True:
        report = verify(conn, since_ms, order_ids, refunds)
        if report.passed or time.monotonic() >= deadline:
            return report
        if notify is not None:
            failing = ", ".join(i.name for i in report.invariants if i.ok is False)
            notify(f"not settled yet ({failing}); reading the topics again")
        time.sleep(1.0)


# -- --since ------------------------------------------------------------------------------------


class BadSince(KafkalabError):
    hint = "give a duration like 10m, 90s, 2h or 1d, or a time like 2026-05-09T14:30:00"


_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$", re.IGNORECASE)


def parse_since(text: str, now_ms: int) -> int:
    """`10m` → ten minutes before `now_ms`; an ISO time (local unless it says its zone) → that
    instant; both in epoch milliseconds, the unit of Kafka record timestamps."""
    match = _DURATION.match(text)
    if match:
        return now_ms - int(float(match.group(1)) * _UNITS_MS[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadSince(f"--since {text!r} is neither a duration nor an ISO time") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is the learner's local time
    return int(moment.timestamp() * 1000)
