"""`python -m kafkalab.platform.metrics_endpoint`: the platform's /metrics on its own.

Locally the supervisor serves this endpoint (group lag read from the broker, port
service_port + 6). In the docker stack there is no supervisor — Docker restarts the
containers — so the `platform-metrics` container runs just the endpoint, and Prometheus's
consumer-lag alert still sees a paused or dead consumer's lag.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from kafkalab.catalogue.services import platform_port
from kafkalab.cluster import connect
from kafkalab.monitoring import exporter
from kafkalab.settings import load_settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings()
    server = exporter.serve(settings, connect.resolve(settings))
    if server is None:
        return 1
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    logging.info("platform metrics on :%d/metrics", platform_port(settings))
    stopping.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
