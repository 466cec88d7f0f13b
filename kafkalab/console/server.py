"""Serving the console: uvicorn on 127.0.0.1 (settings.host), in the foreground.

`kafkalab console` calls `serve` in the user's terminal; the supervisor runs
`python -m kafkalab.console` the same way, detached, beside the services.
"""

from __future__ import annotations

import errno
import logging
import socket

import uvicorn

from kafkalab.cluster import connect
from kafkalab.console.app import create_app
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings


class PortTaken(KafkalabError):
    pass


def check_port(host: str, port: int) -> None:
    """PortTaken (one sentence) unless `port` can be bound — before uvicorn says it its way."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortTaken(
                f"port {port} on {host} is already in use",
                f"`kafkalab up` runs a console there already (open http://{host}:{port}); "
                "or pick another with --port",
            ) from None


def serve(settings: Settings, port: int) -> None:
    """Run the console until SIGINT/SIGTERM."""
    check_port(settings.host, port)
    app = create_app(settings, connect.resolve(settings))
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        log_config=None,
    )


def main() -> None:
    """`python -m kafkalab.console`: the supervised console, on its listen_port."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per scrape is noise
    from kafkalab.settings import load_settings

    settings = load_settings()
    serve(settings, settings.listen_port or settings.console_port)
