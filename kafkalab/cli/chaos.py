"""`kafkalab chaos ACTION TARGET`: break something on purpose, watch Kafka recover, verify."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.catalogue.services import SERVICES
from kafkalab.chaos import burst, journal, network, runner
from kafkalab.chaos.faults import ACTIONS
from kafkalab.cli import audit as audit_cli
from kafkalab.cluster import connect
from kafkalab.errors import InvalidChoice
from kafkalab.settings import load_settings


def chaos(
    action: Annotated[
        str,
        typer.Argument(
            help=f"One of: {', '.join(ACTIONS)}, fail-burst, {', '.join(network.KINDS)}, audit."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Argument(
            help=f"A service ({', '.join(SERVICES)}), refund (`kafkalab up --with refund`: a "
            "load that cancels paid orders, then every refund judged) or broker-N (audit takes "
            "none)."
        ),
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
    ms: Annotated[int, typer.Option("--ms", help="latency: milliseconds added.", min=0)] = 0,
    jitter: Annotated[int, typer.Option("--jitter", help="latency: ± milliseconds.", min=0)] = 0,
    kbps: Annotated[int, typer.Option("--kbps", help="bandwidth: KB/s each way.", min=0)] = 0,
    lasting: Annotated[
        float | None,
        typer.Option("--for", help="Network faults: seconds until the network heals (10).", min=0),
    ] = None,
    delivery_timeout_ms: Annotated[
        int | None,
        typer.Option(
            "--delivery-timeout-ms",
            help="Network faults: the probe producer's delivery.timeout.ms (300000); below "
            "--for, its records fail during a partition.",
            min=1,
        ),
    ] = None,
    after: Annotated[
        float | None,
        typer.Option(
            "--after",
            help="Land the first fault S seconds into the load (default: once its orders flow).",
            min=0,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Kill a broker even when that loses the KRaft quorum or leaves partitions "
            "below min.insync.replicas (the predicted consequence is shown).",
        ),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    docker: Annotated[
        bool, typer.Option("--docker", help="Target a container of `kafkalab up --docker`.")
    ] = False,
) -> None:
    """Inject a fault and print the timeline: fault, rebalance or leader election, recovery.

    kill = SIGKILL (the supervisor restarts it), pause/resume = SIGSTOP/SIGCONT (the group
    evicts a paused member after its session timeout), restart = SIGTERM. Ends with the
    invariant checker; exit 1 if an invariant breaks, the load could not run, or no recovery
    was seen.

    broker-N faults need a 3-broker cluster. A broker kill is timed per partition it led: a
    new live leader, its ISR without the dead broker, an acks=all probe write (about 9 s:
    broker.session.timeout.ms). A kill that would lose the KRaft quorum or leave partitions
    below min.insync.replicas is refused unless --force. `chaos restart broker-N` starts a
    dead broker (or bounces a live one) and waits until it is back in every ISR.

    A kill, pause or restart of a service runs a load of 200 orders in the background
    (--during-load N for another count): the timeline shows the orders in flight when the
    fault lands, and the checker judges them. Under a load each pause is resumed once the group
    has evicted the member. With --no-load the fault is bare: a pause then leaves the replica
    paused, and `resume` judges the window since the pause (its events wait, they are not lost).

    With --docker the same faults hit the docker stack's containers (kill, docker pause/unpause,
    docker restart).

    fail-burst payment = the card gateway fails for --seconds on every payment replica: watch
    the circuit breaker open, then close through its half-open probe.

    Network faults hurt one service's connections to the brokers, through toxiproxy (built by
    scripts/bootstrap): latency SERVICE --ms 200 [--jitter 50], bandwidth SERVICE --kbps 16,
    reset-peer SERVICE (every connection reset), partition SERVICE (a black hole), each for
    --for S seconds (10), then healed. The service is restarted behind the proxies for the run
    and back on the direct listener after it; the report adds what a probe producer beside it
    did (retries, timeouts, duplicates) and where each figure comes from.

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
    typed = journal.Entry(time.time(), action, target, replica, every, orders, no_load)
    journal.note(settings, typed)
    awaited = journal.awaited(settings)
    if awaited and not json:
        ui.step(_break_note(awaited, typed))
    if action == "fail-burst":
        _fail_burst(target, 5.0 if seconds is None else seconds, failure_rate, json)
        return
    if action in network.KINDS:
        from kafkalab.cli import network as network_cli

        if docker or every is not None:
            raise InvalidChoice(
                f"{action} runs once, on the local platform",
                hint=f"drop --docker and --every: `kafkalab chaos {action} {target}`",
            )
        hurt = network.Fault(network.check_kind(action), ms=ms, jitter=jitter, kbps=kbps)
        load = orders if orders is not None or no_load else runner.DEFAULT_LOAD
        network_cli.run(settings, action, target, hurt, lasting, load, json, delivery_timeout_ms)
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
        after=after,
        force=force,
    )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        _render(report)
    if not report.passed:
        raise typer.Exit(1)


def _render(report: runner.ChaosReport) -> None:
    """The timeline, the load's counts, each kill's recovery per partition, the verdict."""
    ui.table(
        f"chaos {report.action} {report.target}: timeline",
        ["+s", "what", "detail"],
        [[f"{e.at_s:.2f}", e.kind, e.detail] for e in report.timeline],
    )
    for kill in report.kills:
        ui.table(
            f"recovery of the {len(kill.led)} partition(s) broker-{kill.victim} led "
            "(seconds after the kill)",
            ["partition", "leader", "new leader", "ISR shrunk", "acks=all write"],
            [
                [p.partition, f"{p.old_leader} → {p.new_leader or '?'}", _s(p.leader_s)]
                + [_s(p.isr_s), _s(p.probe_s)]
                for p in kill.led
            ],
        )
        ui.out.print(f"recovery: {kill.summary()}")
    if report.tally is not None:
        ui.out.print(f"load: {report.tally}")
    for impact in report.impacts:
        ui.out.print(f"  {impact}")
    if report.recovery_seconds:
        worst = max(report.recovery_seconds)
        ui.out.print(
            f"{report.faults} fault(s); recovery {min(report.recovery_seconds):.1f}–{worst:.1f} s"
        )
    if report.verify is not None:
        from kafkalab.cli.observe import render_report

        render_report(report.verify)
    if report.failure:
        ui.failure(report.failure)
    elif report.unchecked:
        ui.success(f"{report.action} {report.target} done — no verdict yet: {report.unchecked}")
    elif report.passed:
        ui.success("nothing lost, nothing doubled: every invariant holds")
    else:
        ui.failure("an invariant broke — see the ✘ lines above")


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}"


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


def _break_note(awaited: str, typed: journal.Entry) -> str:
    """What a waiting `kafkalab lesson N --break` makes of this command."""
    try:
        wanted = journal.parse(awaited)
    except ValueError:
        return "`kafkalab lesson N --break` is watching: it measures what this does"
    if journal.matches(wanted, typed):
        return "`kafkalab lesson N --break` is watching: it measures what this does"
    return f"`kafkalab lesson N --break` waits for `{awaited}`, not this command: it runs unwatched"
