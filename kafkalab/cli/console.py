"""`kafkalab console`: the web console in the foreground (`kafkalab up` also runs one)."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.settings import load_settings


def console(
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            help="HTTP port (default 3000, KAFKALAB_CONSOLE_PORT).",
        ),
    ] = None,
) -> None:
    """The web console: the shop live, topics and messages, groups and lag, order traces,
    schemas and the platform — on http://127.0.0.1:3000 until Ctrl-C.

    Every asset is served by kafkalab (no CDN). `kafkalab up` already runs one beside the
    services (supervised, restarted if it dies); this one is for another port or a cluster
    without the services.
    """
    from kafkalab.console.server import check_port, serve

    settings = load_settings()
    chosen = port or settings.console_port
    check_port(settings.host, chosen)
    ui.success(f"web console on http://{settings.host}:{chosen} — Ctrl-C stops it")
    serve(settings, chosen)
