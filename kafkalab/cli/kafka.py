"""`kafkalab kafka TOOL [ARGS…]`: Kafka's own command-line tools against kafkalab's cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.cluster import connect, tools
from kafkalab.settings import load_settings

CONTEXT = {
    # everything after TOOL is the tool's own: its options (even --help) are passed on as they are
    "allow_interspersed_args": False,
    "ignore_unknown_options": True,
    "help_option_names": ["-h", "--help"],
}


def kafka(
    tool: Annotated[
        str, typer.Argument(help="The tool, named like its script without kafka- and .sh.")
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(help="The tool's own options, as `kafkalab kafka TOOL --help` lists them."),
    ] = None,
) -> None:
    """Run one of Kafka's own tools (Kafka 4.3.1, from the cached jars) against this cluster."""
    given = list(args or [])
    settings = load_settings()
    found = tools.find_tool(tool)  # a wrong name fails before any cluster is looked for
    conn = connect.resolve(settings)
    if not tools.asks_for_help(given):
        from kafkalab.observe import reach

        reach.topic_names(conn)  # one sentence now, not a Java timeout later
    with ui.download_progress("fetching the Kafka jars from Maven Central (once)") as progress:
        done = tools.run_tool(settings, conn, found.name, given, progress=progress)
    if done.returncode != 0:
        raise typer.Exit(done.returncode)


def _help() -> str:
    width = max(len(name) for name in tools.TOOLS)
    listing = "\n".join(f"  {name:<{width}}  {t.about}" for name, t in tools.TOOLS.items())
    return (
        "Run one of Kafka's own tools (Kafka 4.3.1, from the cached jars) against this "
        "cluster.\n\n"
        "kafkalab adds --bootstrap-server (and, on a secure cluster, a --command-config file "
        "with its login) unless you give them. Each run starts a small JVM (~1–2 s).\n\n"
        "Examples:\n\n"
        "\b\n"
        "  kafkalab kafka consumer-groups --describe --group G\n"
        "  kafkalab kafka consumer-groups --group G --topic T --reset-offsets --to-earliest "
        "--execute\n"
        "  kafkalab kafka console-consumer --topic T --from-beginning --max-messages 5\n\n"
        f"Tools (`kafkalab kafka TOOL --help` for the tool's own options):\n\n\b\n{listing}"
    )


kafka.__doc__ = _help()
