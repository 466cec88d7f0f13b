"""`kafkalab chaos ACTION TARGET`: break something on purpose, watch Kafka recover, verify."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.catalogue.services import SERVICES
from kafkalab.chaos import burst, journal, runner
from kafkalab.chaos.faults import ACTIONS
from kafkalab.cli import audit as audit_cli
from kafkalab.cluster import connect
from kafkalab.errors import InvalidChoice
from kafkalab.settings import load_settings


def chaos(
    action: Annotated[
        str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}, fail-burst, audit.")
    ],
    target: Annotated[
        str | None,
        typer.Argument(help=f"A service ({', '.join(SERVICES)}) or broker-N (audit takes none)."),
    ] = None,
    replica: Annotated[
        int, typer.Option("--replica", "-r", help="Which replica of the service.")
    ] = 0,
    during_load: Annotated[
        int | None,
        typer.Option(
            "--during-load",
            "--orders",
            help=f"Run a load of N orders meanwhile (a service's kill, pause or restart runs "
            f"{runner.DEFAULT_LOAD} unless --no-load).",
            min=1,
        ),
    ] = None,
    no_load: Annotated[
        bool,
        typer.Option("--no-load", help="A bare fault: no orders run meanwhile."),
    ] = False,
    every: Annotated[
        float | None,
        typer.Option(
            "--every", help="Repeat the fault every S seconds while the load runs.", min=0.5
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds",
            help="fail-burst: how long the gateway fails (5); audit: writing per fault.",
        ),
    ] = None,
    fault: Annotated[str, typer.Option("--fault", help=audit_cli.HELP)] = "all",
    acks: Annotated[str, typer.Option("--acks", help="audit: all, 1 or both.")] = "both",
    failure_rate: Annotated[
        float, typer.Option("--failure-rate", help="fail-burst: share of gateway calls failing.")
    ] = 1.0,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    docker: Annotated[
        bool, typer.Option("--docker", help="Target a container of `kafkalab up --docker`.")
    ] = False,
) -> None:
    """Inject a fault and print the timeline: fault, rebalance or leader election, recovery.

    kill = SIGKILL (the supervisor restarts it), pause/resume = SIGSTOP/SIGCONT (the group
    evicts a paused member after its session timeout), restart = SIGTERM. broker-N faults need
    a 3-broker cluster. Ends with the invariant checker; exit 1 if an invariant breaks.

    A kill, pause or restart of a service runs a load of 200 orders in the background
    (--during-load N for another count): the timeline shows the orders in flight when the
    fault lands, and the checker judges them. Under a load each pause is resumed once the group
    has evicted the member. With --no-load the fault is bare: a pause then leaves the replica
    paused, and `resume` judges the window since the pause (its events wait, they are not lost).

    With --docker the same faults hit the docker stack's containers (kill, docker pause/unpause,
    docker restart).

    fail-burst payment = the card gateway fails for --seconds on every payment replica: watch
    the circuit breaker open, then close through its half-open probe.

    audit = were the acknowledged writes kept? A numbered producer per acks mode (acks=all
    idempotent, acks=1) writes while a broker is killed, paused, bounced or all three are
    restarted in turn; everything is read back under read_committed: acknowledged, lost,
    duplicated, reordered. Needs a 3-broker cluster, not the services.
    """
    if action == "audit":
        audit_cli.run(fault, acks, seconds, json)
        return
    if target is None:
        raise InvalidChoice(
            f"chaos {action} needs a target", hint=f"a service ({', '.join(SERVICES)}) or broker-N"
        )
    settings = load_settings()
    orders = runner.planned_load(action, target, during_load, no_load, docker)
    # A lesson's break (`kafkalab lesson N --break`) may be waiting for this very command.
    journal.note(settings, journal.Entry(time.time(), action, target, replica, every, orders))
    if journal.awaited(settings) and not json:
        ui.step("`kafkalab lesson N --break` is watching: it measures what this does")
    if action == "fail-burst":
        _fail_burst(target, 5.0 if seconds is None else seconds, failure_rate, json)
        return
    report = runner.run(
        settings,
        connect.resolve(settings),
        action,
        target,
        replica,
        orders,
        every,
        notify=None if json else ui.step,
        docker=docker,
        start_missing=during_load is not None,
    )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        ui.table(
            f"chaos {report.action} {report.target}: timeline",
            ["+s", "what", "detail"],
            [[f"{e.at_s:.2f}", e.kind, e.detail] for e in report.timeline],
        )
        if report.tally is not None:
            ui.out.print(f"load: {report.tally}")
        if report.recovery_seconds:
            worst = max(report.recovery_seconds)
            ui.out.print(
                f"{report.faults} fault(s); recovery {min(report.recovery_seconds):.1f}–{worst:.1f} s"
            )
        if report.verify is not None:
            from kafkalab.cli.observe import render_report

            render_report(report.verify)
        if report.unchecked:
            ui.success(f"{report.action} {report.target} done — no verdict yet: {report.unchecked}")
        elif report.passed:
            ui.success("nothing lost, nothing doubled: every invariant holds")
        else:
            ui.failure("an invariant broke — see the ✘ lines above")
    if not report.passed:
        raise typer.Exit(1)


def _fail_burst(target: str, seconds: float, failure_rate: float, json: bool) -> None:
    if target != "payment":
        raise InvalidChoice(
            f"fail-burst targets the payment gateway, not '{target}'",
            hint="`kafkalab chaos fail-burst payment --seconds 5`",
        )
    report = burst.run(load_settings(), seconds, failure_rate, notify=None if json else ui.step)
    if json:
        ui.print_json(report)
        return
    ui.table(
        f"gateway failure burst ({report.failure_rate:.0%} for {report.seconds:g} s): circuit breaker",
        ["time", "replica", "circuit"],
        [
            [
                time.strftime("%H:%M:%S", time.localtime(c.at)) + f".{int(c.at % 1 * 1000):03d}",
                f"payment-{c.replica}",
                f"{c.before} → {c.after}",
            ]
            for c in report.changes
        ],
    )
    if report.closed_after:
        ui.success("the breaker opened under the burst and closed again after a half-open probe")
    elif report.opened:
        ui.out.print(
            "[yellow]![/] a breaker is still "
            + ", ".join(
                f"payment-{r} {s}" for r, s in sorted(report.final.items()) if s != "closed"
            )
            + " — it closes on the next payment's probe (run a load: `kafkalab load --orders 200`)"
        )
    else:
        ui.out.print(
            "[yellow]![/] no payment was attempted during the burst, so the breaker stayed closed "
            "— run it under load (`kafkalab scenario high-load` does)"
        )
