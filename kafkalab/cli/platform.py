"""`kafkalab up | down | ps | logs | scale`: the six services on top of the cluster."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kafkalab import clients, ui
from kafkalab.cluster import lifecycle
from kafkalab.platform import control, supervisor
from kafkalab.services.catalogue import SERVICES
from kafkalab.settings import load_settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


def up(
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Start (or require) a secure cluster: every service connects over SASL_SSL "
            "as its own SCRAM user, limited by ACLs to its own topics and groups.",
        ),
    ] = False,
) -> None:
    """Start everything: the cluster if needed, the topics, and all six services (healthy).

    Each service is its own process in its own consumer group; a supervisor restarts one that
    crashes. `kafkalab ps` shows them, `kafkalab down` stops them.
    """
    settings = load_settings()
    seconds = control.up(settings, notify=ui.step, secure=secure)
    mode = " over SASL_SSL" if clients.is_secure(settings) else ""
    ui.success(
        f"platform up{mode} in {seconds:.1f} s: {', '.join(SERVICES)} healthy (`kafkalab ps`)"
    )


def down(
    all_: Annotated[bool, typer.Option("--all", help="Also stop the Kafka cluster.")] = False,
) -> None:
    """Stop the six services (the cluster keeps running unless --all)."""
    settings = load_settings()
    stopped = control.down(settings, notify=ui.step)
    if all_:
        lifecycle.down(settings, notify=ui.step)
    ui.success(
        ("services stopped" if stopped else "no services were running")
        + ("; cluster stopped" if all_ else "")
    )


def ps(json: JsonOption = False) -> None:
    """Each service replica: pid, port, health, restarts, partitions owned, its group's lag."""
    rows = control.ps(load_settings())
    if json:
        ui.print_json(rows)
        return
    if not rows:
        ui.out.print("no services running — start them with [bold]kafkalab up[/]")
        return
    ui.table(
        "services",
        ["service", "replica", "pid", "port", "health", "restarts", "partitions", "group lag"],
        [
            [
                r.service,
                r.replica,
                r.pid,
                r.port,
                f"{ui.mark(r.health == 'ok')} {r.health}",
                r.restarts,
                r.assigned,
                r.lag,
            ]
            for r in rows
        ],
    )


def logs(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    replica: Annotated[int, typer.Option("--replica", "-r", help="Which replica.")] = 0,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show first.")] = 40,
) -> None:
    """Print a service's log (JSON lines: ts, level, service, replica, msg, fields)."""
    settings = load_settings()
    path = supervisor.log_file(settings, control.check_service(service), replica)
    if not path.exists():
        ui.failure(f"no log yet at {path} — is it running? (`kafkalab ps`)")
        raise typer.Exit(1)
    with path.open(errors="replace") as handle:
        for line in handle.readlines()[-lines:]:
            ui.out.print(line.rstrip(), markup=False, highlight=False, soft_wrap=True)
        while follow:
            line = handle.readline()
            if line:
                ui.out.print(line.rstrip(), markup=False, highlight=False, soft_wrap=True)
            else:
                time.sleep(0.2)


def scale(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    replicas: Annotated[int, typer.Argument(help="How many replicas (0-6) in its consumer group.")],
) -> None:
    """Run N replicas of a service in one consumer group; Kafka spreads the partitions."""
    control.scale(load_settings(), service, replicas)
    ui.success(f"{service} now runs {replicas} replica(s) (`kafkalab ps` shows the partitions)")
