"""The Shop page: the live figures of `kafkalab dashboard` and `kafkalab alerts`, with charts.

`ShopHistory` keeps the dashboard's snapshots (monitoring.dashboard — the same numbers the
terminal shows) and the end-to-end flow (console.latency) for the last minutes; `render`
turns them into the page's live fragment. Nothing here computes a figure of its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kafkalab.console import svg
from kafkalab.console.html import esc, figure, num, table
from kafkalab.console.latency import Flow
from kafkalab.monitoring.dashboard import DashboardSnapshot

KEEP = 300  # samples: ten minutes at one every two seconds


@dataclass
class Sample:
    snap: DashboardSnapshot
    flow: Flow | None


class ShopHistory:
    def __init__(self, keep: int = KEEP) -> None:
        self.samples: deque[Sample] = deque(maxlen=keep)

    def add(self, snap: DashboardSnapshot, flow: Flow | None) -> None:
        self.samples.append(Sample(snap, flow))

    def series(self, pick: str) -> list[tuple[float, float | None]]:
        """(time, value) of one figure over the kept samples, for a chart."""
        out: list[tuple[float, float | None]] = []
        for s in self.samples:
            out.append((s.snap.at, _pick(s, pick)))
        return out


def _pick(sample: Sample, name: str) -> float | None:
    snap, flow = sample.snap, sample.flow
    match name:
        case "orders_per_min":
            return snap.orders_per_min
        case "revenue_per_min":
            return None if snap.revenue_per_min_cents is None else snap.revenue_per_min_cents / 100
        case "payment_success":
            return None if snap.payment_success_rate is None else snap.payment_success_rate * 100
        case "throughput":
            return None if flow is None else flow.per_s
        case "p99":
            return None if flow is None or not flow.latency.count else float(flow.latency.p99)
        case "lag":
            return float(sum(snap.lag.values()))
    raise KeyError(name)


def pct(rate: float | None) -> str:
    return num(None if rate is None else rate * 100, ".1f", " %")


def render(history: ShopHistory) -> str:
    """The live part of the Shop page: tiles, charts, notification delivery, stock, alerts."""
    if not history.samples:
        return "<p class=muted>collecting the first sample…</p>"
    last = history.samples[-1]
    snap, flow = last.snap, last.flow
    revenue = None if snap.revenue_per_min_cents is None else snap.revenue_per_min_cents / 100
    tiles = "".join(
        [
            figure("orders since start", num(snap.orders_total), "orders-total"),
            figure("orders this minute", num(snap.orders_per_min), "orders-per-min"),
            figure("revenue this minute", num(revenue, ",.2f"), "revenue-per-min"),
            figure("payment success", pct(snap.payment_success_rate), "payment-success"),
            figure("conversion", pct(snap.conversion_rate), "conversion", "confirmed ÷ created"),
            figure(
                "inventory turnover",
                num(snap.inventory_turnover, ".3f"),
                "turnover",
                "units committed ÷ average stock, this minute",
            ),
            figure(
                "throughput",
                num(None if flow is None else flow.per_s, ".2f", " orders/s"),
                "throughput",
                "finished, last minute",
            ),
            figure(
                "end-to-end p50 / p99",
                "—"
                if flow is None or not flow.latency.count
                else f"{flow.latency.p50} / {flow.latency.p99} ms",
                "latency",
                "OrderCreated → terminal status",
            ),
        ]
    )
    charts = "".join(
        [
            svg.line_chart("orders per minute", history.series("orders_per_min")),
            svg.line_chart("revenue per minute", history.series("revenue_per_min")),
            svg.line_chart("payment success", history.series("payment_success"), " %", "#2b8a3e"),
            svg.line_chart("throughput", history.series("throughput"), " /s", "#7048e8"),
            svg.line_chart("end-to-end p99", history.series("p99"), " ms", "#e8590c"),
            svg.line_chart("consumer lag (all groups)", history.series("lag"), "", "#c92a2a"),
        ]
    )
    # The rate is analytics' (sent ÷ requested since it started), as `kafkalab dashboard` shows
    # it; the counts beside it are notification's own counters.
    delivery = [(ch, rate * 100) for ch, rate in snap.delivery_rate.items()]
    delivery_rows = [
        (ch, f"{d.requested:,.0f}", f"{d.sent:,.0f}", pct(snap.delivery_rate.get(ch)))
        for ch, d in snap.delivery.items()
    ]
    latency_rows = []
    if flow is not None and flow.latency.count:
        lat = flow.latency
        latency_rows = [(lat.count, lat.p50, lat.p95, lat.p99, lat.max)]
    alerts = "".join(
        f'<li class="alert {esc(a.state)}"><b>{esc(a.state)}</b> {esc(a.rule)}: {esc(a.summary)}</li>'
        for a in snap.alerts
    )
    services = [
        (
            s.service,
            "✔" if s.up else "✘",
            f"{s.consumed_per_s:.1f}",
            f"{s.produced_per_s:.1f}",
            s.dead_letters,
        )
        for s in snap.services
    ]
    return (
        f"<section class=kpis>{tiles}</section>"
        f"<section class=charts>{charts}</section>"
        "<section class=cols>"
        f"<div><h2>notification delivery</h2>{svg.bars('sent ÷ requested', delivery, ' %', 100.0)}"
        f"{table(('channel', 'requested', 'sent', 'rate'), delivery_rows)}</div>"
        f"<div><h2>end-to-end latency (last minute, ms)</h2>"
        f"{table(('orders', 'p50', 'p95', 'p99', 'max'), latency_rows)}"
        f"<h2>low stock (&lt; 10 available)</h2>"
        f"{table(('sku', 'available'), sorted(snap.low_stock.items()))}</div>"
        f"<div><h2>alerts</h2><ul id=alerts class=alerts>{alerts or '<li class=muted>none firing</li>'}</ul>"
        f"<h2>services</h2>{table(('service', 'up', 'consumed/s', 'produced/s', 'dead letters'), services)}</div>"
        "</section>"
    )
