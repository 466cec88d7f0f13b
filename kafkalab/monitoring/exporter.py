"""The platform's own /metrics endpoint, served by the supervisor on service_port + 6 (8107).

Why not in the services: a consumer that is paused, hung or dead cannot report its own lag —
exactly when the lag alert matters. So, like Kafka's lag exporters, this endpoint reads the lag
of every kafkalab consumer group from the broker (committed offset vs. end offset), and adds
what the supervisor knows about the replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import platform_port
from kafkalab.connection import Connection
from kafkalab.observe.groups import platform_groups
from kafkalab.observe.lag import group_lag
from kafkalab.services.http import Request, Response, ServiceHttpServer, platform_routes
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.exporter")


class PlatformCollector(Collector):
    """kafkalab_consumergroup_lag and kafkalab_service_replicas, computed at scrape time."""

    def __init__(
        self,
        conn: Connection,
        replicas: Callable[[], list[tuple[str, str]]] = list,
        groups: Callable[[], list[str]] = platform_groups,
    ) -> None:
        self.conn = conn
        self.replicas = replicas  # (service, state) per replica
        self.groups = groups  # the groups whose lag it reports, asked at each scrape

    def collect(self) -> Iterator[Metric]:
        spec = specs.GROUP_LAG
        lag = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        try:
            for group in group_lag(self.conn, self.groups(), timeout=5.0):
                for p in group.partitions:
                    lag.add_metric([group.group, p.topic, str(p.partition)], p.lag)
        except Exception as exc:  # noqa: BLE001 - the endpoint must answer while Kafka is away
            log.warning("group lag unavailable: %s", exc)
        yield lag
        spec = specs.SERVICE_REPLICAS
        replicas = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        counts: dict[tuple[str, str], int] = {}
        for service, state in self.replicas():
            counts[(service, state)] = counts.get((service, state), 0) + 1
        for (service, state), count in sorted(counts.items()):
            replicas.add_metric([service, state], count)
        yield replicas

    def describe(self) -> Iterator[Metric]:
        return iter(())


def serve(
    settings: Settings,
    conn: Connection,
    replicas: Callable[[], list[tuple[str, str]]] = list,
    groups: Callable[[], list[str]] = platform_groups,
) -> ServiceHttpServer | None:
    """Start the endpoint in a daemon thread; None (logged) if its port is taken, because the
    supervisor's real job — keeping the services running — must not depend on it. `groups`:
    the supervisor adds the learner's refund group while `up --with refund` runs it."""
    registry = CollectorRegistry()
    registry.register(PlatformCollector(conn, replicas, groups))

    def metrics(request: Request) -> Response:
        return Response(200, generate_latest(registry), CONTENT_TYPE_LATEST)

    def health(request: Request) -> Response:
        return Response(200, {"status": "ok", "service": specs.PLATFORM})

    try:
        server = ServiceHttpServer(
            settings.host,
            platform_port(settings),
            platform_routes(health, metrics),
            title="kafkalab platform metrics",
            description=__doc__ or "",
        )
    except OSError as exc:
        log.warning("platform metrics not served on port %s: %s", platform_port(settings), exc)
        return None
    server.start()
    return server
