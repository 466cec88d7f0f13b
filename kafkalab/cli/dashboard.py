"""`kafkalab dashboard`: a live terminal view of the running platform."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.cluster import connect
from kafkalab.monitoring.dashboard import Dashboard
from kafkalab.observe import reach
from kafkalab.platform import control
from kafkalab.settings import load_settings


def dashboard(
    interval: Annotated[
        float, typer.Option("--interval", "-i", min=0.5, help="Seconds between refreshes.")
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="With --once: the snapshot as JSON.")
    ] = False,
) -> None:
    """Orders and revenue per minute, payment success rate, inventory turnover, each channel's
    delivery rate, per-service throughput, lag per group with its history, dead letters and
    alerts — refreshed live until Ctrl-C."""
    settings = load_settings()
    conn = connect.resolve(settings)
    reach.topic_names(conn)  # one sentence, not a stack of timeouts, when nothing runs
    reach.require_registry(conn)
    board = Dashboard(settings, conn, control.scrape_targets(settings))
    try:
        if once or json:
            snap = board.snapshot()
            if json:
                ui.print_json(snap)
            else:
                ui.out.print(ui.dashboard_view(snap))
            return
        ui.live_view(lambda: ui.dashboard_view(board.snapshot()), interval)
    finally:
        board.close()
