"""`kafkalab scenario [NAME]`: drive the platform through a story and judge the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kafkalab import scenarios, ui
from kafkalab.errors import InvalidChoice
from kafkalab.platform import control
from kafkalab.settings import load_settings

if TYPE_CHECKING:
    from kafkalab.scenarios.highload import HighLoadReport


def scenario(
    name: Annotated[str | None, typer.Argument(help="Scenario to run; none lists them.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    orders: Annotated[
        int | None,
        typer.Option("--orders", "-n", help="high-load: orders to place (default 2,000).", min=1),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", help="high-load: orders per second (default: as fast as possible).", min=0.1
        ),
    ] = None,
) -> None:
    """Run a scenario: starts what is missing, acts like a user, prints the causal event trace,
    the consumer lag and a verdict read back from the topics. Exit 1 if an expectation fails.

    high-load drives a load of orders instead, with payment scaled out, a gateway outage and
    the autoscaler on, and prints a timeline of what Kafka did.
    """
    settings = load_settings()
    if name is None:
        found = scenarios.load_all(settings)
        ui.table(
            "scenarios",
            ["name", "what happens", "from"],
            [[s.name, s.title, s.source] for s in found.values()]
            + [[SECURITY, "Secure mode's claims, each checked against the broker", "built-in"]],
        )
        ui.out.print("run one with [bold]kafkalab scenario NAME[/]")
        return
    if name == SECURITY:
        _security(json)
        return
    from kafkalab.scenarios import engine  # Avro + HTTP clients: load on use

    chosen = scenarios.get(settings, name)
    if chosen.runner == "load":
        _high_load(orders, rate, json)
        return
    if orders is not None or rate is not None:
        raise InvalidChoice(
            f"--orders and --rate apply to load-driven scenarios, not to {chosen.name}",
            hint="`kafkalab scenario high-load --orders 500`",
        )
    started = control.up(settings, notify=ui.step)
    if started.console:
        ui.step(f"web console: {started.console} (watch the shop live there)")
    ui.step(
        f"platform ready ({started.seconds:.1f} s); running scenario {chosen.name}: {chosen.title}"
    )
    result = engine.run(settings, started.conn, chosen, notify=ui.step)
    if json:
        ui.print_json({**ui.to_jsonable(result), "passed": result.passed})
    else:
        ui.trace(result.trace)
        ui.table(
            "consumer lag",
            ["group", "partitions", "lag"],
            [[g.group, len(g.partitions), g.total] for g in result.lags],
        )
        ui.verdict(result.checks)
        if result.verify is not None:
            from kafkalab.cli.observe import render_report

            render_report(result.verify)
        if result.passed:
            ui.success(f"{chosen.name}: every expectation holds ({result.seconds:.1f} s)")
        else:
            failed = [c.name for c in result.checks if c.ok is False]
            if result.verify is not None and not result.verify.passed:
                failed.append("the invariants")
            ui.failure(f"{chosen.name}: {', '.join(failed)} did not hold ({result.seconds:.1f} s)")
    if not result.passed:
        raise typer.Exit(1)


def _high_load(orders: int | None, rate: float | None, json: bool) -> None:
    from kafkalab.cli.load import progress_pairs
    from kafkalab.load import plan as p
    from kafkalab.scenarios import highload  # Kafka + HTTP clients: load on use

    plan = highload.HighLoadPlan(orders=orders or highload.HighLoadPlan.orders, rate=rate)
    p.LoadPlan(plan.orders, plan.rate).validate()  # a bad count fails before anything starts
    settings = load_settings()
    started = control.up(settings, notify=ui.step)
    ui.step(
        f"platform ready ({started.seconds:.1f} s); running scenario high-load: "
        f"{plan.orders:,} orders"
    )
    with ui.live_kv("high-load") as update:
        report = highload.run(
            settings,
            started.conn,
            plan,
            progress=lambda progress, extra: update([*progress_pairs(progress), *extra]),
            notify=None if json else ui.step,
        )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        _render_high_load(report)
    if not report.passed:
        raise typer.Exit(1)


def _render_high_load(report: HighLoadReport) -> None:
    ui.table(
        "high-load: timeline",
        ["+s", "what", "detail"],
        [[f"{e.at_s:.2f}", e.kind, e.detail] for e in report.timeline],
    )
    for title, group in (("before scaling", report.before), ("after the rebalance", report.after)):
        if group is None:
            continue
        ui.table(
            f"payment group {title} (lag {group.lag:,})",
            ["member", "partitions", "which"],
            [[m, len(parts), ", ".join(parts)] for m, parts in group.members.items()],
        )
    steps = [s for s in report.autoscaler if s["kind"] != "capped"]
    ui.out.print(
        f"autoscaler: {len(steps)} step(s)"
        + "".join(
            f"\n  {s['service']} {s['replicas']} → {s['target']}: {s['reason']}"
            for s in report.autoscaler
        )
        if report.autoscaler
        else "autoscaler: on, took no step (no group stayed over its lag threshold long enough)"
    )
    if report.load is not None:
        load = report.load
        ui.kv(
            "load",
            [
                (
                    "orders",
                    f"{load.orders.accepted + load.failing.accepted:,} accepted, {load.lost:,} lost",
                ),
                (
                    "outcome",
                    f"{load.orders.confirmed:,} confirmed, {load.orders.cancelled:,} cancelled",
                ),
                (
                    "wall time",
                    f"{load.wall_seconds:.2f} s (first order sent → last order terminal)",
                ),
                ("orders/s", f"{load.orders_per_s:,.1f}"),
                ("latency p50/p99", f"{load.latency.p50} / {load.latency.p99} ms"),
            ],
        )
    ui.verdict(report.checks)
    if report.verify is not None:
        from kafkalab.cli.observe import render_report

        render_report(report.verify)
    ui.out.print(
        "payment keeps its replicas afterwards: `kafkalab ps` shows them, "
        "`kafkalab scale payment 1` goes back"
    )
    if report.passed:
        ui.success(f"high-load: every expectation and invariant holds ({report.seconds:.1f} s)")
    else:
        failed = [c.name for c in report.checks if c.ok is False]
        if report.verify is None or not report.verify.passed:
            failed.append("the invariants")
        ui.failure(f"high-load: {', '.join(failed)} did not hold ({report.seconds:.1f} s)")


SECURITY = "security"


def _security(json: bool) -> None:
    """Each claim shown as ✔/✘: on this platform when it is secure (or none exists yet: a
    secure one is started), else on a side secure cluster beside the plain one."""
    from kafkalab.cluster.state import ClusterState
    from kafkalab.scenarios import security

    settings = load_settings()
    state = None if settings.external else ClusterState.load(settings)
    if state is not None and not state.secure:
        started = control.up(settings, notify=ui.step)
        ui.step(
            "this platform's cluster is plain (no TLS, SASL or ACLs): the broker's claims are "
            "checked on a side secure cluster, and yours is left as it is"
        )
        result = security.run_on_side(settings, started.conn, notify=ui.step)
    else:
        started = control.up(settings, notify=ui.step, secure=True)
        ui.step(f"secure platform ready ({started.seconds:.1f} s); checking its claims")
        result = security.run(settings, started.conn, notify=ui.step)
    if json:
        ui.print_json({**ui.to_jsonable(result), "passed": result.passed})
    else:
        ui.out.print(f"checked on {result.where}")
        ui.verdict(result.checks)
        if result.passed:
            ui.success(f"security: every claim holds ({result.seconds:.1f} s)")
        else:
            failed = [c.name for c in result.checks if c.ok is False]
            ui.failure(f"security: {'; '.join(failed)} did not hold ({result.seconds:.1f} s)")
    if not result.passed:
        raise typer.Exit(1)
