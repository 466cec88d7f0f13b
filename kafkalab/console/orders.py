"""The Orders page: find an order by id or prefix and show its causal trace as a timeline —
observe.trace, the same truth as `kafkalab trace` — and the latest orders to pick from."""

from __future__ import annotations

from kafkalab.console.html import clock, esc, table
from kafkalab.events import topics as t
from kafkalab.observe.tail import TailRecord
from kafkalab.observe.trace import OrderTrace

SERVICE_COLOURS = {
    "user": "#1971c2",
    "order": "#e8590c",
    "inventory": "#2b8a3e",
    "payment": "#7048e8",
    "notification": "#c2255c",
    "analytics": "#0c8599",
}


def render_recent(records: list[TailRecord]) -> str:
    rows = [
        (
            clock(r.timestamp_ms, date=True),
            f'<a href="/orders?id={esc(r.key)}">{esc(r.key)}</a>',
            esc(r.summary),
        )
        for r in reversed(records)
        if r.type == "OrderCreated"
    ]
    return f"<h2>latest orders on {t.ORDER_EVENTS}</h2>" + table(
        ("created", "order", "summary"), rows, raw=True
    )


def render_trace(trace: OrderTrace) -> str:
    """The trace as a table with a bar per event: where it sits in time since the first."""
    span = max((line.at_ms for line in trace.lines), default=0) or 1
    rows = []
    for i, line in enumerate(trace.lines, 1):
        left = line.at_ms / span * 96
        colour = SERVICE_COLOURS.get(line.service, "#868e96")
        bar = f'<div class=lane><i style="left:{left:.1f}%;background:{colour}"></i></div>'
        rows.append(
            (
                i,
                f"+{line.at_ms} ms",
                f'<b style="color:{colour}">{esc(line.service)}</b>',
                f"<b>{esc(line.event_type)}</b>",
                f"{esc(line.topic)}[{line.partition}]@{line.offset}",
                esc(line.summary),
                bar,
            )
        )
    return (
        f"<p id=order-status>order <code>{esc(trace.order_id)}</code> — status "
        f"<b>{esc(trace.status)}</b> · {len(trace.lines)} events in causal order "
        "(each after its cause: causation_id headers), rebuilt from the topics alone</p>"
        + table(
            ("#", "at", "service", "event", "topic[partition]@offset", "what", "timeline"),
            rows,
            raw=True,
        )
    )
