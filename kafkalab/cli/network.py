"""`kafkalab chaos latency|bandwidth|reset-peer|partition SERVICE`: the network faults' part
of the chaos command (chaos/network.py does the work; this renders it like the other faults)."""

from __future__ import annotations

import typer

from kafkalab import ui
from kafkalab.chaos import network
from kafkalab.cluster import connect
from kafkalab.settings import Settings


def run(
    settings: Settings,
    kind: str,
    service: str,
    fault: network.Fault,
    seconds: float | None,
    orders: int | None,
    json: bool,
    delivery_timeout_ms: int | None = None,
) -> None:
    """Run one network fault and print its timeline, what the client did and the verdict."""
    report = network.run(
        settings,
        connect.resolve(settings),
        fault,
        service,
        seconds=seconds if seconds is not None else network.DEFAULT_FOR,
        during_load=orders,
        notify=None if json else ui.step,
        delivery_timeout_ms=delivery_timeout_ms,
    )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        ui.table(
            f"chaos {kind} {service}: timeline",
            ["+s", "what", "detail"],
            [[f"{e.at_s:.2f}", e.kind, e.detail] for e in report.timeline],
        )
        if report.tally is not None:
            ui.out.print(f"load: {report.tally}")
        for line in report.probe.lines() if report.probe else []:
            ui.out.print(line)
        if report.verify is not None:
            from kafkalab.cli.observe import render_report

            render_report(report.verify)
        if report.passed:
            ui.success(f"{service} rode out the {kind}: nothing lost, nothing doubled")
        else:
            ui.failure("an invariant broke — see the ✘ lines above")
    if not report.passed:
        raise typer.Exit(1)
