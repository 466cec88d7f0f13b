"""`kafkalab alerts`: the alert rules (kafkalab/monitoring/alerts.yml) as kafkalab's Prometheus
holds them when it runs, else evaluated live from /metrics in-process; it says which."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.platform import monitoring
from kafkalab.settings import load_settings


def alerts(
    watch: Annotated[
        bool,
        typer.Option("--watch", "-w", help="Keep evaluating (honours each rule's `for:`)."),
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="The alerts as JSON (not with --watch).")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", "-i", min=0.5, help="Seconds between scrapes."),
    ] = 3.0,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Another Prometheus rule file (default: the shipped one)."),
    ] = None,
) -> None:
    """The alert rules' verdicts: firing, pending (true, but not yet for its `for:`) or inactive.

    When kafkalab's Prometheus runs (`kafkalab monitoring up`), its own rule evaluation is
    asked (/api/v1/rules). Otherwise the same rule file is evaluated in-process, like
    Prometheus would: every service's /metrics, the platform's group lag and the brokers'
    agents scraped; without --watch two scrapes `--interval` apart, so a rule with `for:` shows
    as pending at most. A line on stderr says which source answered."""
    settings = load_settings()
    source = monitoring.alert_source(settings, rules)
    if watch:
        source.sample()  # a platform that is not there is one line, before the live view
        ui.step(f"alerts from {source.name}")
        ui.live_view(lambda: ui.alerts_view(source.sample()), interval)
        return
    found = source.once(interval)
    ui.step(f"alerts from {source.name}")
    if json:
        ui.print_json(found)
    else:
        ui.out.print(ui.alerts_view(found))
