"""`kafkalab up | down | ps | logs | scale`: the six services on top of the cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.catalogue.services import SERVICES
from kafkalab.cluster import connect, lifecycle
from kafkalab.errors import InvalidChoice
from kafkalab.platform import compose, control, files, learner, monitoring
from kafkalab.platform.scaling import MAX_REPLICAS, Policy
from kafkalab.settings import Settings, load_settings


def check_brokers(brokers: int) -> int:
    if brokers not in (1, 3):
        raise InvalidChoice(
            f"the docker stack has 1 or 3 Kafka nodes, not {brokers}", hint="use --brokers 1 or 3"
        )
    return brokers


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


DockerOption = Annotated[
    bool,
    typer.Option(
        "--docker", help="Use docker/compose.yaml (Kafka, registry, UI, Prometheus, Grafana)."
    ),
]


def up(
    docker: DockerOption = False,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Start (or require) a secure cluster: every service connects over SASL_SSL "
            "as its own SCRAM user, limited by ACLs to its own topics and groups.",
        ),
    ] = False,
    brokers: Annotated[
        int, typer.Option("--brokers", help="With --docker: 1 or 3 Kafka nodes.")
    ] = 1,
    autoscale: Annotated[
        bool | None,
        typer.Option(
            "--autoscale/--no-autoscale",
            help="Add a replica to a service whose consumer lag stays over --lag-threshold "
            "for --for seconds (up to its partition count); --no-autoscale stops it.",
        ),
    ] = None,
    lag_threshold: Annotated[
        int, typer.Option("--lag-threshold", help="Lag (records) that counts as behind.", min=0)
    ] = Policy.lag_threshold,
    for_: Annotated[
        float,
        typer.Option("--for", help="Seconds the lag must stay over the threshold.", min=0.5),
    ] = Policy.sustain_seconds,
    scale_down_after: Annotated[
        float,
        typer.Option(
            "--scale-down-after",
            help="Seconds at 0 lag before removing a replica the autoscaler added (0: never).",
            min=0,
        ),
    ] = Policy.idle_seconds,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            metavar="refund[=PATH]",
            help="Also run a service you wrote, supervised like the six: `refund` is lesson "
            "22's refund service, from your workspace copy of its exercise.py (or =PATH). "
            "Then `kafkalab chaos kill refund --every 3 --during-load 200` hurts it and "
            "`kafkalab verify` judges every refund. With --secure it logs in as its own SCRAM "
            "user `refund`, with ACLs for exactly what it does; `down` forgets it.",
        ),
    ] = None,
    with_monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help="Also start a real Prometheus on 127.0.0.1:9090 over every service and broker, "
            "with kafkalab's alert rules (`kafkalab monitoring status`).",
        ),
    ] = False,
) -> None:
    """Start everything: the cluster if needed, the topics, all six services (healthy) and the
    web console on http://127.0.0.1:3000.

    Each service is its own process in its own consumer group; a supervisor restarts one that
    crashes (and the console). `kafkalab ps` shows them, `kafkalab down` stops them; each
    service's API is at http://127.0.0.1:810N/docs. With --monitoring, a real Prometheus on
    :9090 too. With --docker the whole
    stack runs in containers instead (needs a Docker engine with the compose plugin). With
    --autoscale the supervisor also scales a service by its consumer lag
    (`kafkalab logs supervisor`).
    """
    if docker:
        compose.up(check_brokers(brokers), notify=ui.step)
        ui.success(
            "docker stack up and healthy: Kafka 127.0.0.1:9092, registry :8081, services "
            ":8101-8106, Kafka UI :8080, Prometheus :9090, Grafana :3000"
        )
        return
    settings = load_settings()
    policy = Policy(lag_threshold, for_, scale_down_after) if autoscale else None
    if autoscale is False:
        control.set_autoscale(settings, None)
    extra = learner_files(settings, with_ or [])
    started = control.up(
        settings, notify=ui.step, autoscale=policy, secure=secure, with_learner=extra
    )
    protocol = started.conn.security_protocol
    mode = "" if protocol == "PLAINTEXT" else f" over {protocol}"
    running = [*SERVICES, *learner.read(settings)]
    ui.success(
        f"platform up{mode} in {started.seconds:.1f} s: {', '.join(running)} healthy (`kafkalab ps`)"
    )
    if started.console:
        ui.success(f"web console: {started.console}")
    elif settings.console_port:
        ui.out.print(
            f"[yellow]![/] the web console does not answer on {control.console_url(settings)} "
            "(port taken?) — see `kafkalab logs console`"
        )
    if policy is not None:
        ui.success(f"autoscaler on: {_policy_text(policy)}")
    if with_monitoring:
        found = monitoring.up(settings, notify=ui.step)
        ui.success(
            f"Prometheus at {found.url}: {found.targets_up}/{len(found.targets)} targets up so "
            f"far, {len(found.rules)} alert rules loaded (`kafkalab monitoring status`)"
        )


def learner_files(settings: Settings, asked: list[str]) -> dict[str, Path]:
    """`--with refund` → {"refund": the workspace's lesson 22 exercise.py}; `refund=PATH` →
    that file."""
    from kafkalab.curriculum import manifest, workspace

    found: dict[str, Path] = {}
    for item in asked:
        name, _, path = item.partition("=")
        learner.check_name(name)
        if path:
            found[name] = Path(path).expanduser()
        else:
            found[name] = workspace.find(settings).exercise(manifest.find(learner.LESSON[name]))
    return found


def _policy_text(policy: Policy) -> str:
    down = (
        f"; -1 replica it added after {policy.idle_seconds:g} s at lag 0"
        if policy.scales_down
        else "; never scales down"
    )
    return (
        f"+1 replica when a group's lag stays > {policy.lag_threshold} for "
        f"{policy.sustain_seconds:g} s, up to its partition count{down}"
    )


def down(
    all_: Annotated[bool, typer.Option("--all", help="Also stop the Kafka cluster.")] = False,
    docker: DockerOption = False,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="With --docker: also delete the stack's data.")
    ] = False,
) -> None:
    """Stop the six services and kafkalab's Prometheus (the cluster keeps running unless --all).

    With --docker: remove the compose stack's containers (the data volumes stay unless --volumes).
    """
    if docker:
        compose.down(volumes, notify=ui.step)
        ui.success("docker stack removed" + ("; volumes deleted" if volumes else ""))
        return
    settings = load_settings()
    stopped = control.down(settings, notify=ui.step)
    watched = monitoring.down(settings)
    if all_:
        lifecycle.down(settings, notify=ui.step)
    ui.success(
        ("services stopped" if stopped else "no services were running")
        + ("; Prometheus stopped" if watched else "")
        + ("; cluster stopped" if all_ else "")
    )


def ps(json: JsonOption = False) -> None:
    """Each service replica: pid, port, health, restarts, partitions owned, its group's lag."""
    settings = load_settings()
    rows = control.ps(settings, connect.resolve(settings))
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
    _autoscale_line(settings)
    console = files.read_console_status(settings)
    if console is not None:
        ui.out.print(
            f"console: {control.console_url(settings)} — {console.state}, pid {console.pid}, "
            f"{console.restarts} restart(s)"
        )


def _autoscale_line(settings: Settings) -> None:
    state = control.autoscale_status(settings)
    if state is None or state.policy is None:
        ui.out.print("autoscaler: off (`kafkalab up --autoscale` turns it on)")
        return
    steps = [d for d in state.decisions if d["kind"] != "capped"]
    last = steps[-1] if steps else None
    ui.out.print(
        f"autoscaler: [green]on[/] — {_policy_text(state.policy)}; {len(steps)} step(s) taken"
        + (
            f", last: {last['service']} {last['replicas']} → {last['target']} ({last['reason']})"
            if last
            else ""
        )
        + " (`kafkalab logs supervisor`)"
    )


def logs(
    service: Annotated[
        str, typer.Argument(help=f"One of: {', '.join(SERVICES)}, supervisor or console.")
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    replica: Annotated[int, typer.Option("--replica", "-r", help="Which replica.")] = 0,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show first.")] = 40,
) -> None:
    """Print a service's log (JSON lines: ts, level, service, replica, msg, fields), the
    supervisor's (restarts and the autoscaler's steps) or the web console's."""
    settings = load_settings()
    if service == "supervisor":
        path = files.supervisor_log(settings)
    elif service == "console":
        path = files.log_file(settings, "console", 0)
    else:
        path = files.log_file(settings, control.check_service(service), replica)
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
    replicas: Annotated[
        int, typer.Argument(help=f"How many replicas (0-{MAX_REPLICAS}) in its consumer group.")
    ],
) -> None:
    """Run N replicas of a service in one consumer group; Kafka spreads the partitions."""
    control.scale(load_settings(), service, replicas)
    ui.success(f"{service} now runs {replicas} replica(s) (`kafkalab ps` shows the partitions)")
