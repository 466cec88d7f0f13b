"""`kafkalab smoke`: the end-to-end proof that the cluster and registry work."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.cluster import connect, lifecycle
from kafkalab.settings import load_settings


def smoke(
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="How many events to send.")
    ] = 1000,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Start the cluster if needed, then round-trip Avro events through it and print a verdict.

    Proves: the broker acknowledges every event (acks=all), the schema is registered in the
    registry, a consumer group reads every event back, decoded by schema id, in order per key.
    """
    from kafkalab.observe.roundtrip import run_round_trip  # Avro + registry client: load on use

    settings = load_settings()
    if not settings.external:
        with ui.download_progress("fetching the Kafka jars from Maven Central (once)") as progress:
            started = lifecycle.up(settings, notify=ui.step, progress=progress)
        if not started.already_running:
            ui.step(f"cluster started in {started.seconds:.1f} s")
    result = run_round_trip(connect.resolve(settings), events=events)
    if json:
        ui.print_json({**ui.to_jsonable(result), "passed": result.passed})
    else:
        ui.verdict(
            result.checks,
            f"round trip through {result.topic}",
            headings=("expectation", "what came back through Kafka"),
        )
        rate = result.events / result.produce_seconds if result.produce_seconds else 0
        ui.out.print(
            f"produced {result.events} Avro events in {result.produce_seconds:.2f} s ({rate:,.0f}/s), "
            f"consumed them in {result.consume_seconds:.2f} s"
        )
        if result.passed:
            ui.success("verdict: Kafka and the schema registry work end to end")
        else:
            ui.failure("verdict: the round trip did not hold — see the ✘ lines above")
    if not result.passed:
        raise typer.Exit(1)
