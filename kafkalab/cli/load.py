"""`kafkalab load`: many orders through the real pipeline, measured from the topics."""

from __future__ import annotations

import json as jsonlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kafkalab import ui
from kafkalab.errors import KafkalabError
from kafkalab.load import plan as p
from kafkalab.platform import control
from kafkalab.settings import load_settings

if TYPE_CHECKING:
    from kafkalab.load.driver import Progress
    from kafkalab.load.report import LoadReport
    from kafkalab.load.run import LoadRun


class ReportNotWritten(KafkalabError):
    hint = "choose a path in a directory you can write to, or --json - for stdout"


def load(
    orders: Annotated[
        int, typer.Option("--orders", "-n", help="Orders to place.")
    ] = p.DEFAULT_ORDERS,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Orders per second to aim for (default: as fast as possible)."),
    ] = None,
    users: Annotated[
        int, typer.Option("--users", help="Users to register and spread the orders over.")
    ] = p.DEFAULT_USERS,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            help="Fraction of orders placed by users who cannot pay (cancelled after the reservation TTL).",
        ),
    ] = 0.0,
    cancel_paid: Annotated[
        float,
        typer.Option(
            "--cancel-paid",
            metavar="F",
            help="Fraction of the paying customers' orders their customer cancels once they are "
            "paid and CONFIRMED (POST /orders/{id}/cancel): inventory puts the stock back, and a "
            "refund service (`kafkalab up --with refund`, lesson 22) owes each one refund.",
        ),
    ] = 0.0,
    json: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE",
            help="Also write the figures as JSON to FILE (- for stdout only).",
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Then measure raw produce→consume of as many records on the same broker.",
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="HTTP requests in flight at most.")
    ] = p.DEFAULT_CONCURRENCY,
    drain_timeout: Annotated[
        float | None,
        typer.Option(
            "--drain-timeout",
            help="Seconds after the last order for every order to finish; later ones count as LOST (default: reservation TTL + 30).",
        ),
    ] = None,
) -> None:
    """Drive N orders through the six services and report throughput, latency and lag.

    Orders go in over the services' HTTP APIs. The report: wall time, orders/s, end-to-end
    latency (OrderCreated → terminal state, from the records' timestamps), per-service
    events/s and CPU, peak lag; then what one order costs: CPU seconds per 1,000 orders by
    process, records per order by topic, broker requests by type (what batching changes, and
    steady on a busy machine where orders/s is not) — then the invariant checker runs.
    Orders that never finish count as LOST. Exit 1 if any order was lost or an invariant fails.
    """
    from kafkalab.load import run as load_run  # Kafka + HTTP clients: load on use

    plan = p.LoadPlan(
        orders, rate, users, fail_rate, concurrency, drain_timeout, cancel_paid
    ).validate()
    if json not in (None, "-"):
        _check_writable(Path(json))  # before the run, not after minutes of load
    settings = load_settings()
    started = control.up(settings, notify=ui.step)
    pace = f"at {plan.rate:g} orders/s" if plan.rate else "as fast as the platform takes them"
    ui.step(
        f"platform ready ({started.seconds:.1f} s); {plan.orders:,} orders {pace}, {plan.users} users"
    )
    with ui.live_kv("load") as update:
        result = load_run.run(
            settings,
            started.conn,
            plan,
            with_baseline=baseline,
            progress=lambda progress: update(progress_pairs(progress)),
            notify=ui.step,
        )
    if json is not None:
        _write_json(json, result.to_jsonable())
    if json != "-":
        _render(result)
    if not result.passed:
        raise typer.Exit(1)


def progress_pairs(progress: Progress) -> list[tuple[str, object]]:
    lags = ", ".join(f"{g.removeprefix('kafkalab-')} {lag}" for g, lag in progress.lags.items())
    return [
        ("phase", f"{progress.phase} ({progress.elapsed:.1f} s)"),
        ("sent", f"{progress.sent:,} / {progress.planned:,}"),
        ("accepted", f"{progress.accepted:,}"),
        ("confirmed", f"{progress.confirmed:,}"),
        (
            "failed",
            f"{progress.cancelled:,} cancelled, {progress.rejected:,} rejected, {progress.refused:,} refused",
        ),
        ("in flight", f"{progress.in_flight:,}"),
        ("orders/s", f"{progress.orders_per_s:,.0f}"),
        ("lag", lags or "—"),
    ]


def _check_writable(path: Path) -> None:
    folder = path.expanduser().resolve().parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ReportNotWritten(f"cannot write the report to {path}")


def _write_json(target: str, data: dict[str, Any]) -> None:
    text = jsonlib.dumps(data, indent=2, default=str) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text)
    except OSError as exc:
        raise ReportNotWritten(f"could not write {target}: {exc.strerror or exc}") from exc


def _render(result: LoadRun) -> None:
    r = result.report
    ui.kv(
        "load",
        [
            (
                "orders",
                f"{r.plan.orders:,} planned, {r.orders.accepted + r.failing.accepted:,} accepted",
            ),
            ("wall time", f"{r.wall_seconds:.2f} s (first order sent → last order terminal)"),
            ("orders/s", f"{r.orders_per_s:,.1f} terminal ({r.sent_per_s:,.1f} sent/s)"),
            ("schedule slip", f"{r.max_schedule_slip_ms} ms max" if r.plan.rate else None),
            ("setup", f"{r.setup_seconds:.1f} s (users, logins, stock; not in the figures)"),
        ],
    )
    rows = [
        ("paying orders", r.latency),
        ("unpaid orders (TTL incl.)", r.failing_latency),
        ("POST /orders (HTTP)", r.http_latency),
    ]
    ui.table(
        "latency, ms (order placed → terminal state, from record timestamps)",
        ["", "count", "p50", "p95", "p99", "max"],
        [[name, lat.count, lat.p50, lat.p95, lat.p99, lat.max] for name, lat in rows if lat.count],
    )
    ui.table(
        "orders",
        ["", "accepted", "confirmed", "cancelled", "rejected", "lost"],
        [
            [
                name,
                o.accepted,
                o.confirmed,
                o.cancelled,
                o.rejected,
                f"[red]{o.lost}[/]" if o.lost else 0,
            ]
            for name, o in (("paying", r.orders), ("unpaid", r.failing))
            if o.accepted
        ],
    )
    if r.cancels is not None:
        c = r.cancels
        refused = "; refused: " + ", ".join(f"{n} × {w}" for w, n in c.refused.items())
        ui.out.print(
            f"cancelled after payment: {c.accepted} of {c.picked} picked "
            f"({c.seen} read back CONFIRMED → CANCELLED on order-events"
            + (f", {c.skipped} never reached CONFIRMED" if c.skipped else "")
            + ")"
            + (refused if c.refused else "")
        )
    if r.refused:
        ui.failure("never created: " + ", ".join(f"{n} × {why}" for why, n in r.refused.items()))
    ui.table(
        f"services (over {r.settle_seconds:.1f} s: first order → the run's last record)",
        ["service", "events written", "events/s", "CPU % of a core"],
        [[s.service, f"{s.events:,}", f"{s.events_per_s:,.0f}", s.cpu_percent] for s in r.services]
        + [
            ["broker", "", "", r.broker_cpu_percent],
            ["load driver", "", "", r.driver_cpu_percent],
            ["anything else", "", "", r.other_cpu_percent],
        ],
    )
    if r.machine_busy_percent is not None:
        ui.out.print(
            f"CPU is % of one core during the orders (first sent → last terminal); the machine's "
            f"{r.cpu_cores} cores were {r.machine_busy_percent:.0f}% busy"
        )
    from kafkalab.load.report import cold_broker  # the CLI imports the load code lazily

    if (cold := cold_broker(r)) is not None:
        ui.out.print(f"[yellow]![/] {cold}")
    if not r.settled:
        ui.out.print("[yellow]![/] the topics were still growing when counting began")
    _render_cost(r)
    ui.table(
        "consumer lag (records)",
        ["group", "peak", "at the end"],
        [[g.group, f"{g.peak:,}", f"{g.final:,}"] for g in r.lags],
    )
    pipeline = [
        (
            "records",
            f"{r.volume.records:,} ({r.volume.bytes / 1e6:,.1f} MB, {r.volume.mean_size} B each)",
        ),
        ("events/s", f"{r.pipeline_events_per_s:,.0f}"),
    ]
    if result.baseline is not None:
        b = result.baseline
        pipeline += [
            (
                "raw Kafka",
                f"{b.msgs_per_s:,.0f} msgs/s ({b.messages:,} × {b.message_bytes} B in {b.seconds:.2f} s)",
            ),
            ("pipeline ÷ raw", f"{b.ratio:.1%}"),
        ]
    ui.kv("pipeline (read back from the topics)", pipeline)
    if r.lost_order_ids:
        ui.failure(
            f"{r.lost} orders LOST (no terminal state in time), e.g. {', '.join(r.lost_order_ids[:3])}"
        )
    _render_verify(result)
    if result.passed:
        ui.success(
            f"{r.orders.accepted + r.failing.accepted:,} orders, all terminal, "
            f"{r.orders_per_s:,.1f} orders/s, p99 {r.latency.p99} ms"
        )
    elif r.lost:
        ui.failure(
            f"{r.lost:,} of {r.orders.accepted + r.failing.accepted:,} orders never finished"
        )
    else:
        ui.failure("the invariant checker found a violation (see above)")


def _render_cost(r: LoadReport) -> None:
    """What one order costs: CPU seconds per 1,000 orders by process, records per order by
    topic, broker requests — figures that hold on a shared machine, where orders/s does not."""
    per_1k = r.cpu_s_per_1k_orders
    if per_1k:
        ui.table(
            "CPU seconds per 1,000 orders (first order → the run's last record)",
            ["process", "CPU-s / 1,000 orders"],
            [[label, f"{value:,.2f}"] for label, value in per_1k.items()],
        )
    per_order = r.records_per_order
    if per_order:
        ui.table(
            "records per order, by topic",
            ["topic", "records / order"],
            [[topic, f"{value:,.2f}"] for topic, value in per_order.items()],
        )
    if r.broker_requests:
        rates = r.broker_requests_per_s
        orders = max(r.accepted, 1)
        ui.table(
            "broker requests (its JMX exporter, over the same window as the services)",
            ["request", "count", "per s", "per order"],
            [
                [kind, f"{n:,}", f"{rates.get(kind, 0):,.0f}", f"{n / orders:,.2f}"]
                for kind, n in r.broker_requests.items()
            ],
        )


def _render_verify(result: LoadRun) -> None:
    if result.verify is None:
        return
    from kafkalab.cli.observe import render_report

    render_report(result.verify)
