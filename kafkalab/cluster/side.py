"""A throw-away cluster of another shape beside the user's (secure, or three brokers).

The lessons that need one (`Lab.side_cluster`: lessons 18, 20, 22) and `kafkalab scenario
security` on a plain platform start it here: its own data dir below the user's and free ports,
so the user's cluster is never touched; stopped and deleted, keys and all, when the block ends.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kafkalab.cluster import connect, lifecycle, ports
from kafkalab.connection import Connection
from kafkalab.settings import Settings

PORTS = 13
"""Brokers, controllers and secure ports for up to three nodes, the registry, three agents."""


@dataclass(frozen=True)
class Side:
    settings: Settings
    conn: Connection
    """As admin on a secure side cluster."""


@contextmanager
def side_cluster(
    settings: Settings,
    folder: str,
    brokers: int = 1,
    secure: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Iterator[Side]:
    """A cluster in `<data dir>/<folder>` on free ports above the user's broker port."""
    base = ports.free_block(settings.host, PORTS, start=settings.broker_port + 300)
    side = settings.model_copy(
        update={
            "data_dir": settings.data_dir / folder,
            "broker_port": base,
            "controller_port": base + 3,
            "secure_port": base + 6,
            "registry_port": base + 9,
            "broker_metrics_port": base + 10 if settings.broker_metrics_port else 0,
            "heap": "-Xms64m -Xmx384m",
            "bootstrap": None,
            "client_properties": None,
            "registry_url": None,
        }
    )
    shutil.rmtree(side.data_dir, ignore_errors=True)
    try:
        lifecycle.up(side, brokers=brokers, notify=notify, secure=secure)
        yield Side(side, connect.resolve(side))
    finally:
        lifecycle.down(side)
        shutil.rmtree(side.data_dir, ignore_errors=True)
