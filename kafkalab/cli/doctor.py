"""`kafkalab doctor`."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.doctor import diagnose
from kafkalab.settings import load_settings


def doctor(
    json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check Python, Java ≥ 17, the cached Kafka jars, the ports and the cluster; say how to fix each."""
    report = diagnose(load_settings())
    if json:
        ui.print_json(report)
    else:
        ui.verdict(report.checks, "kafkalab doctor", headings=("check", "finding"))
        ui.kv("settings (env var = value)", sorted(report.settings.items()))
        if report.healthy:
            ui.success("ready: nothing blocks `kafkalab cluster up`")
        else:
            ui.failure("fix the ✘ lines above, then run `kafkalab doctor` again")
    if not report.healthy:
        raise typer.Exit(1)
