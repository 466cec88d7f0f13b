"""Lesson 17's grader: seeds an `analytics` topic the way the analytics service writes it (one
record per update of a window, keyed by metric, written in transactions, two of them aborted),
runs the learner's panel reader, then reads the `panel` topic back and compares each minute's row
with the figures it works out itself from `analytics` read under read_committed."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
MINUTES = 4  # minute windows with orders (lessons.toml's question says so too)
LATE = 2  # the last minutes, updated once more in the final, aborted transaction
WINDOW_MS = 60_000
TUMBLING = "tumbling-60s"
PANEL = ("orders_count", "revenue_cents")  # the panel's figures, one column each

READ_COMMITTED = (
    "set the consumer's isolation.level to read_committed: it then never returns a record of an "
    "aborted transaction"
)
LATEST = (
    "keep the latest update of each window: store its value in the window's row, replacing the "
    "one before (panel[start][metric] = value), never adding to it"
)


@dataclass(frozen=True)
class Update:
    """One AnalyticsWindow record of `analytics`, as read back."""

    offset: int
    timestamp: int
    metric: str
    window: str
    start: int
    value: float


def _window(
    metric: str, window: str, start: int, value: float, count: int, end: int | None = None
) -> bytes:
    """An AnalyticsWindow value as analytics writes it (JSON here, Avro in the platform); a
    running total's window spans its first to its latest event time."""
    return json.dumps(
        {
            "metric": metric,
            "window": window,
            "window_start": start,
            "window_end": start + WINDOW_MS if end is None else end,
            "value": value,
            "count": count,
        }
    ).encode()


def _orders(base: int) -> list[tuple[int, int, int]]:
    """(minute, event time, cents) per order, in the order analytics receives them: by minute,
    but not by time within one — inputs from several partitions arrive out of step."""
    orders = []
    for m in range(MINUTES):
        n = random.randint(2, 4)
        times = random.sample(range(1_000, 59_000), n)
        if m == 0 and times[-1] == max(times):  # one minute's last update is not its newest
            times[0], times[-1] = times[-1], times[0]
        orders += [(m, base + m * WINDOW_MS + t, random.randint(500, 9_999)) for t in times]
    return orders


def _records(orders: list[tuple[int, int, int]], base: int) -> list[tuple[int, str, bytes, int]]:
    """What analytics writes for these orders, each record with the index of its order: its
    minute's orders_count and revenue_cents so far, the running orders_total, and after a
    minute's last order that minute's payment success rate."""
    out: list[tuple[int, str, bytes, int]] = []
    count: dict[int, int] = {}
    revenue: dict[int, int] = {}
    first, last = min(t for _, t, _ in orders), 0
    for n, (m, t, cents) in enumerate(orders):
        start = base + m * WINDOW_MS
        count[m] = count.get(m, 0) + 1
        revenue[m] = revenue.get(m, 0) + cents
        last = max(last, t)
        total = _window("orders_total", "running", first, n + 1, n + 1, end=last)
        out += [
            (n, "orders_count", _window("orders_count", TUMBLING, start, count[m], count[m]), t),
            (
                n,
                "revenue_cents",
                _window("revenue_cents", TUMBLING, start, revenue[m], count[m]),
                t,
            ),
            (n, "orders_total", total, t),
        ]
        if n + 1 == len(orders) or orders[n + 1][0] != m:
            rate = round(random.uniform(0.5, 1.0), 2)
            success = _window("payment_success_rate", TUMBLING, start, rate, count[m])
            out.append((n, "payment_success_rate", success, t))
    return out


def _stale(
    orders: list[tuple[int, int, int]], minutes: list[int], base: int
) -> list[tuple[int, str, bytes, int]]:
    """Updates of `minutes` from a stale instance that counted orders that never were: higher
    than the real figures, and written in a transaction that is then aborted."""
    out = []
    for m in minutes:
        mine = [(t, c) for mm, t, c in orders if mm == m]
        n = len(mine)
        # never the sum of the minute's real updates (1 + 2 + … + n): each wrong figure says
        # which mistake made it
        extra = random.choice([x for x in (1, 2, 3) if n + x != n * (n + 1) // 2])
        count = n + extra
        cents = sum(c for _, c in mine) + sum(random.randint(500, 9_999) for _ in range(extra))
        start, t = base + m * WINDOW_MS, mine[-1][0]
        out.append((-1, "orders_count", _window("orders_count", TUMBLING, start, count, count), t))
        out.append(
            (-1, "revenue_cents", _window("revenue_cents", TUMBLING, start, cents, count), t)
        )
    return out


def prepare(lab: Lab) -> Task:
    source = lab.topic("analytics", partitions=PARTITIONS)
    # Compacted, like a table: the cleaner keeps the latest row of each key (each minute).
    panel = lab.topic("panel", config={"cleanup.policy": "compact"})
    now_minute = int(time.time() * 1000) // WINDOW_MS * WINDOW_MS
    base = now_minute - random.randint(30, 600) * WINDOW_MS  # new minutes every run
    orders = _orders(base)
    committed = _records(orders, base)
    half = next(i for i, o in enumerate(orders) if o[0] >= MINUTES // 2)
    first = [r for r in committed if r[0] < half]
    second = [r for r in committed if r[0] >= half]
    aborted_early = _stale(orders, [orders[half][0]], base)  # overwritten by a later commit
    aborted_last = _stale(orders, list(range(MINUTES - LATE, MINUTES)), base)  # never overwritten
    producer = lab.producer(**{"transactional.id": lab.topic_name("analytics-writer")})
    producer.init_transactions(30)
    for batch, commit in (
        (first, True),
        (aborted_early, False),
        (second, True),
        (aborted_last, False),
    ):
        producer.begin_transaction()
        for _, key, value, timestamp in batch:  # keyed by metric: one metric, one partition
            producer.produce(source, key=key.encode(), value=value, timestamp=timestamp)
        producer.flush(30)  # on the broker (in the log) before the outcome is decided
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    return Task(
        topics={"analytics": source, "panel": panel},
        groups={"panel": lab.group("panel")},
    )


def _updates(records: list[Record]) -> list[Update]:
    out = []
    for r in records:
        v = json.loads(r.value or b"{}")
        out.append(
            Update(r.offset, r.timestamp, v["metric"], v["window"], v["window_start"], v["value"])
        )
    return out


def _figures(updates: list[Update]) -> dict[int, dict[str, float]]:
    """Each minute's row: per metric, the value of its highest-offset update (a metric is one
    key, so all its updates sit on one partition, in offset order)."""
    rows: dict[int, dict[str, float]] = {}
    for u in sorted(updates, key=lambda u: u.offset):
        if u.window == TUMBLING and u.metric in PANEL:
            rows.setdefault(u.start, {})[u.metric] = u.value
    return rows


def _num(x: Any) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x:.0f}" if float(x).is_integer() else f"{x}"
    return repr(x)


def _minute(start: int) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(start / 1000)) + f" (window_start {start})"


def _rows(records: list[Record], topic: str) -> tuple[dict[int, dict[str, Any]], Check | None]:
    """The panel as a reader of the compacted topic sees it: the latest record of each key."""
    name = "the panel has one row per minute"
    latest: dict[bytes, Record] = {}
    for r in records:
        if r.key is None:
            return {}, Check(
                name,
                False,
                f"a record at offset {r.offset} of {topic} has no key",
                fix="key each row by its window's start: a compacted topic keeps one per key",
            )
        latest[r.key] = r
    rows: dict[int, dict[str, Any]] = {}
    for key, r in latest.items():
        try:
            row = json.loads(r.value or b"null")
            start = int(row["window_start"])
        except (ValueError, TypeError, KeyError):
            return {}, Check(
                name,
                False,
                f"the row under key {key!r} is not a JSON object with a window_start: "
                f"{(r.value or b'')[:60]!r}",
                fix="publish each row as the exercise does: json.dumps({'window_start': start, "
                "**row})",
            )
        if start in rows:
            return {}, Check(
                name,
                False,
                f"{_minute(start)} has rows under two keys: the compacted topic keeps both",
                fix="key every row of a window the same way: by its window_start",
            )
        rows[start] = row
    return rows, None


def _have_rows(
    rows: dict[int, dict[str, Any]], truth: dict[int, dict[str, float]], topic: str
) -> Check:
    name = "the panel has one row per minute"
    if not rows:
        return Check(
            name,
            False,
            f"no row reached {topic}: keep() recorded no update, so there was nothing to publish",
            fix="in keep(), put each update's value into its minute's row (panel[window_start]), "
            "under the update's metric",
        )
    missing = sorted(set(truth) - set(rows))
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} of {len(truth)} minutes have no row, e.g. {_minute(missing[0])}",
            fix="record every update of the panel's metrics in keep(), whichever minute it is in",
        )
    extra = sorted(set(rows) - set(truth))
    if extra:
        return Check(
            name,
            False,
            f"a row for {_minute(extra[0])}, but no committed update of orders_count or "
            "revenue_cents has that window",
            fix="key the panel by the update's window_start; records of other metrics and "
            "windows are not this panel's",
        )
    return Check(name, True, f"{len(rows)} rows, one per minute with orders")


def _why(got: Any, mine: list[Update], every: list[Update], want: float) -> tuple[str, str]:
    """What a wrong figure matches — so the ✘ names the mistake — and the fix for it.
    `mine`: the window's committed updates of one metric; `every`: its aborted ones too."""
    if got in (sum(u.value for u in mine), sum(u.value for u in every)):
        return (
            f"that is the sum of its updates: each of the {len(mine)} committed ones carries the "
            "window's whole figure so far, not an increment",
            LATEST,
        )
    kept = {u.offset for u in mine}
    if got in [u.value for u in every if u.offset not in kept]:
        return (
            "that figure comes from an update written in a transaction that was then aborted: it "
            "never happened, but a read_uncommitted consumer returns it",
            READ_COMMITTED,
        )
    if len(mine) > 1 and got == max(mine, key=lambda u: u.timestamp).value:
        return (
            "that is the update with the newest timestamp, not the latest one: a result carries "
            "its input's timestamp, and offsets, not timestamps, order a window's updates",
            LATEST,
        )
    if len(mine) > 1 and got == mine[0].value:
        return "that is the window's first update: each later one replaces it", LATEST
    return "the panel must show the latest one", LATEST


def _of(updates: list[Update], metric: str, start: int) -> list[Update]:
    """The updates of one metric's window, in offset order."""
    mine = [u for u in updates if (u.window, u.metric, u.start) == (TUMBLING, metric, start)]
    return sorted(mine, key=lambda u: u.offset)


def _figures_right(
    rows: dict[int, dict[str, Any]],
    truth: dict[int, dict[str, float]],
    committed: list[Update],
    everything: list[Update],
) -> Check:
    name = "each row shows its minute's latest committed figures"
    for start in sorted(truth):
        for metric in PANEL:
            want, got = truth[start][metric], rows[start].get(metric)
            if got == want:
                continue
            if got is None:
                return Check(
                    name,
                    False,
                    f"the row of {_minute(start)} has no {metric}",
                    fix="store each update of the panel's metrics in its row, under the metric's "
                    "name",
                )
            mine, every = _of(committed, metric, start), _of(everything, metric, start)
            why, fix = _why(got, mine, every, want)
            return Check(
                name,
                False,
                f"{_minute(start)}: {metric} {_num(got)}, but the latest committed update "
                f"says {_num(want)} — {why}",
                fix=fix,
            )
    return Check(name, True, f"all {len(truth)} rows match the latest committed update of each")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    source, panel = task.topics["analytics"], task.topics["panel"]
    committed = _updates(read_all(lab.conn, source))
    everything = _updates(read_all(lab.conn, source, isolation="read_uncommitted"))
    truth = _figures(committed)
    rows, bad = _rows(read_all(lab.conn, panel), panel)
    checks = [bad or _have_rows(rows, truth, panel)]
    if checks[0].ok:
        checks.append(_figures_right(rows, truth, committed, everything))
    uncommitted = _figures(everything)
    truths = {"wrong": sum(1 for start in truth if uncommitted.get(start) != truth[start])}
    return Graded(checks, truths)
