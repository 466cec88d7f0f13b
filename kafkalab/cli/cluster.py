"""`kafkalab cluster …`: the real Kafka broker(s) and the schema registry on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.cluster import lifecycle
from kafkalab.settings import load_settings

app = typer.Typer(
    help="Start, stop and inspect the local KRaft cluster and its schema registry.",
    no_args_is_help=True,
)

BrokersOption = Annotated[
    int | None,
    typer.Option(
        "--brokers",
        "-b",
        help="1 (one combined broker+controller) or 3 (replication factor 3, min.insync.replicas 2). "
        "Default: the size already formatted in the data dir, else 1.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


SecureOption = Annotated[
    bool,
    typer.Option(
        "--secure",
        help="Format a new cluster for secure mode: SASL_SSL only (TLS from a local CA, "
        "SCRAM-SHA-512 users per service), ACLs enforced. Remembered in the data dir.",
    ),
]


@app.command()
def up(
    brokers: BrokersOption = None, json: JsonOption = False, secure: SecureOption = False
) -> None:
    """Start a real Apache Kafka (KRaft) cluster on 127.0.0.1 plus the schema registry.

    The first run fetches the Kafka jars from Maven Central into ~/.cache/kafkalab and verifies
    them; later runs work offline. Running it again while the cluster is up changes nothing.
    """
    settings = load_settings()
    with ui.download_progress("fetching the Kafka jars from Maven Central (once)") as progress:
        result = lifecycle.up(settings, brokers, notify=ui.step, progress=progress, secure=secure)
    if json:
        ui.print_json(result)
        return
    size = len(result.status.brokers)
    if result.caught_up_seconds is not None:
        ui.success(
            f"{', '.join(result.started)} back: in every ISR again after "
            f"{result.caught_up_seconds:.1f} s of catching up"
        )
        return
    if result.already_running:
        ui.success(f"already running: {size} broker(s) at {result.status.bootstrap}, nothing to do")
    else:
        ui.success(
            f"Kafka {result.status.kafka_version} up in {result.seconds:.1f} s: "
            f"{size} broker(s) at {result.status.bootstrap}, "
            f"schema registry at {result.status.registry.url if result.status.registry else '—'}"
        )


@app.command()
def down(json: JsonOption = False) -> None:
    """Stop the registry and the brokers cleanly (controlled shutdown); the data is kept."""
    stopped = lifecycle.down(load_settings(), notify=ui.step)
    if json:
        ui.print_json({"stopped": stopped})
    elif stopped:
        ui.success(f"stopped {', '.join(stopped)}; data kept (`kafkalab cluster reset` wipes it)")
    else:
        ui.success("nothing was running")


@app.command()
def status(json: JsonOption = False) -> None:
    """Brokers (running, dead or fenced), controller, under-replicated and offline partitions,
    topics, registry, data dir, pids and ports."""
    result = lifecycle.status(load_settings())
    if json:
        ui.print_json(result)
        return
    ui.kv(
        "cluster",
        [
            ("state", _state_line(result)),
            ("kafka", result.kafka_version),
            ("cluster id", result.cluster_id),
            ("bootstrap", result.bootstrap),
            ("security", _security_line(result)),
            ("controller", f"node {result.controller_id}" if result.controller_id else None),
            ("data dir", result.data_dir),
        ],
    )
    ui.table(
        "brokers",
        ["", "name", "state", "port", "controller port", "pid", "log"],
        [
            [
                ui.mark(b.state == "running"),
                b.name,
                b.state,
                b.port,
                b.controller_port,
                b.pid,
                b.log,
            ]
            for b in result.brokers
        ],
    )
    if result.under_replicated is not None:
        ui.out.print(
            f"[bold]partitions[/]: {result.under_replicated} under-replicated, "
            f"{result.offline} offline"
        )
    for b in result.brokers:
        if b.state == "dead" and result.running:
            ui.out.print(
                f"[yellow]![/] {b.name} is dead: `kafkalab chaos restart {b.name}` (or "
                "`kafkalab cluster up`) starts it and waits until it is back in every ISR"
            )
    if result.registry:
        r = result.registry
        ui.table(
            "schema registry",
            ["", "url", "pid", "subjects", "managed by kafkalab"],
            [[ui.mark(r.running), r.url, r.pid, r.subjects, "yes" if r.managed else "no"]],
        )
    user_topics = [t for t in result.topics if not t.startswith("_")]
    internal = len(result.topics) - len(user_topics)
    ui.out.print(
        f"[bold]topics[/] ({len(user_topics)}, +{internal} internal): {', '.join(user_topics) or '—'}"
    )
    if not result.running:
        ui.out.print("start it with [bold]kafkalab cluster up[/]")


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    jars: Annotated[
        bool,
        typer.Option(
            "--jars", help="Also delete the cached Kafka jars (fetched again on next up)."
        ),
    ] = False,
) -> None:
    """Stop everything and delete the data dir: every topic, offset and schema is lost."""
    settings = load_settings()
    if not yes and not _confirm(f"Delete {settings.data_dir} (all topics, offsets and schemas)?"):
        ui.failure("nothing removed (pass --yes to skip this question)")
        raise typer.Exit(1)
    removed = lifecycle.reset(settings, jars=jars)
    ui.success(f"removed {', '.join(removed)}" if removed else "nothing to remove")


def _confirm(question: str) -> bool:
    try:
        return typer.confirm(question)
    except typer.Abort:  # no terminal to answer on (CI, a pipe): that is a "no"
        return False


def _state_line(result: lifecycle.ClusterStatus) -> str:
    if not result.running:
        return "[red]not running[/]"
    down = [f"{b.name} {b.state}" for b in result.brokers if b.state != "running"]
    return f"[yellow]degraded[/] ({', '.join(down)})" if down else "[green]running[/]"


def _security_line(result: lifecycle.ClusterStatus) -> str:
    if result.secure:
        return "SASL_SSL + SCRAM + ACLs (secure mode)"
    return "plaintext, no ACLs" if result.protocol == "PLAINTEXT" else result.protocol
