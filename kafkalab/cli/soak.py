"""`kafkalab soak`: minutes of steady load while broker faults come round (`chaos.soak`)."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.chaos import soak as soaking
from kafkalab.cluster import connect
from kafkalab.settings import load_settings

INTERRUPTED = 130
"""Ctrl-C's exit status (`cli.main.ExitStatus.CTRL_C`) when everything that ran held."""


def soak(
    minutes: Annotated[
        float, typer.Option("--minutes", help="How long the load runs.", min=0.1)
    ] = 10.0,
    fault_every: Annotated[
        float,
        typer.Option("--fault-every", help="Seconds between two faults' starts.", min=5.0),
    ] = 60.0,
    rate: Annotated[
        float, typer.Option("--rate", help="Orders per second of the steady load.", min=0.1)
    ] = soaking.DEFAULT_RATE,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a steady load on the shop while broker faults come round, then judge it all.

    Every --fault-every seconds the next fault hits the next broker: kill (SIGKILL, restart),
    pause (SIGSTOP until the controller fences it, SIGCONT), bounce (SIGTERM, restart),
    rolling (all three bounced in turn). Each waits until the broker is back in every ISR.
    The end is one report: the faults with their recovery times, the orders, the lost and
    doubled ones, and the invariant checker's verdict. Exit 1 if anything did not hold.
    Analytics is at-least-once: orders its running total counted twice after a fault are
    shown (!), not failed; a total short of the orders fails.

    Needs a 3-broker cluster and the services (`kafkalab cluster up --brokers 3`, then
    `kafkalab up`). Ctrl-C stops early: the brokers are restored, and the orders already
    accepted are drained and judged before the report.
    """
    settings = load_settings()
    report = soaking.run_soak(
        settings,
        connect.resolve(settings),
        minutes,
        fault_every,
        rate,
        notify=None if json else ui.step,
    )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        render(report)
    if not report.passed:
        raise typer.Exit(1)
    if report.interrupted:
        raise typer.Exit(INTERRUPTED)


def render(report: soaking.SoakReport) -> None:
    title = (
        f"soak: {report.minutes:g} min at {report.rate:g} orders/s, a fault every "
        f"{report.fault_every:g} s" + (" (stopped early by Ctrl-C)" if report.interrupted else "")
    )
    ui.table(
        title,
        ["when", "fault", "broker", "new leaders after", "every ISR full after"],
        soaking.fault_rows(report),
    )
    t = report.tally
    twice = soaking.counted_twice(report.verify) if report.verify is not None else None
    ui.kv(
        "orders",
        [
            ("planned", t.planned if t else None),
            ("accepted", t.accepted if t else None),
            ("refused", t.refused if t else None),
            (
                "confirmed / cancelled / rejected",
                f"{t.confirmed} / {t.cancelled} / {t.rejected}" if t else None,
            ),
            ("lost", report.lost),
            ("doubled (charged twice)", report.doubled),
            ("counted twice by analytics (at-least-once)", twice),
        ],
    )
    ui.verdict(report.checks, "verdict", headings=("expectation", "what was seen"))
    if report.passed:
        ui.success(
            "every fault recovered; nothing lost, nothing doubled"
            + (f"; analytics counted {twice} order(s) twice (at-least-once)" if twice else "")
        )
    else:
        ui.failure("something did not hold — see the ✘ lines above")
