"""`kafkalab alerts`: the alert rules (kafkalab/monitoring/alerts.yml) evaluated live from /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.platform import control
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
    """Evaluate the alert rules live, like Prometheus would: firing, pending or inactive.

    Scrapes every service's /metrics and the platform's group lag, then shows each alert
    firing, pending (true, but not yet for its `for:`) or inactive, with its value. Without
    --watch: two scrapes `--interval` apart, so a rule with `for:` shows as pending at most."""
    settings = load_settings()
    live = LiveAlerts(control.scrape_targets(settings), rules)
    if watch:
        ui.live_view(lambda: ui.alerts_view(live.sample()), interval)
        return
    found = live.once(interval)
    if json:
        ui.print_json(found)
    else:
        ui.out.print(ui.alerts_view(found))
