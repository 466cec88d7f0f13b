"""The clusters and platforms the integration tests share: one of each shape per session.

Booting a broker, a registry and six services costs ~20–30 s of a 2-core machine, so modules no
longer start their own. Each shape ("variant") is started the first time a test asks for it and
kept while the tests that use it run; `conftest.py` orders the tests by variant, so each one is
started once. Only one variant runs at a time (besides the small session cluster): asking for
another stops the running one, which keeps an idle platform from eating the CPU the next tests
need.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkalab.cluster import connect, lifecycle
from kafkalab.connection import Connection
from kafkalab.platform import control
from kafkalab.settings import Settings, load_settings
from tests.helpers import free_port_block


@dataclass(frozen=True)
class Running:
    """A started cluster (and platform): its settings, and the connection to it (as admin on
    a secure one, as kafkalab's commands connect)."""

    settings: Settings
    conn: Connection


@dataclass(frozen=True)
class Variant:
    services: bool = True
    brokers: int = 1
    secure: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    why: str = ""


VARIANTS: dict[str, Variant] = {
    "platform": Variant(why="the six services as `kafkalab up` starts them, default settings"),
    "short_ttl_platform": Variant(
        overrides={"reservation_ttl": 3.0},
        why="orders of users who cannot pay are cancelled within seconds, not ten",
    ),
    "high_load_platform": Variant(
        overrides={"payment_latency_ms": 40, "reservation_ttl": 60.0},
        why="a slow gateway builds payment lag to scale on; a long TTL so nothing expires",
    ),
    "secure_platform": Variant(secure=True, why="SASL_SSL, SCRAM users, ACLs, sealed fields"),
    "three_brokers": Variant(
        services=False,
        brokers=3,
        overrides={"heap": "-Xms64m -Xmx384m"},
        why="replication factor 3 and leader elections",
    ),
}
"""Fixture name → what it starts. The order here is the order the tests run in."""


@dataclass
class Started:
    """One cluster start of the session and how long it took (printed at the end)."""

    name: str
    seconds: float


POOLS: list[Pool] = []
"""This process's pool (the `pool` fixture's), for the hook in tests/conftest.py that stops a
variant as soon as no test left on this worker needs it."""

STARTS: list[Started] = []
"""Every broker start of this process's session (conftest counts them; tests/conftest.py
prints them, gathered from every worker under pytest-xdist)."""


class Pool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.active: tuple[str, Running] | None = None

    def get(self, name: str) -> Running:
        if self.active is not None and self.active[0] == name:
            return self.active[1]
        self.stop()
        variant = VARIANTS[name]
        settings = local_settings(self.root / name, **variant.overrides)
        try:
            running = _start(settings, variant)
        except BaseException:
            _stop(settings, variant)
            raise
        self.active = (name, running)
        return running

    def release(self, name: str) -> None:
        """Stop `name` if it is the running variant: its last test on this worker has run.

        Why not keep it until another is asked for: under xdist a worker goes on to groups of
        the session cluster, and an idle platform costs ~7 CPU-s a minute (three brokers ~5)
        that the other workers' tests need — in a clean-clone run, about 100 CPU-s in all.
        """
        if self.active is not None and self.active[0] == name:
            self.stop()

    def stop(self) -> None:
        if self.active is None:
            return
        name, running = self.active
        self.active = None
        _stop(running.settings, VARIANTS[name])
        shutil.rmtree(running.settings.data_dir, ignore_errors=True)


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a cluster (and platform) of the tests' own, on free ports below the
    ephemeral range: brokers, controllers and secure ports for up to three nodes, the registry,
    then the services (6, the platform endpoint, and 10 more per extra replica, up to six), the
    brokers' JMX exporter agents (up to three), Prometheus (`kafkalab monitoring`) and last the
    web console."""
    base = free_port_block(82)
    # C1 only: a test broker starts on ~2 CPU-s less and idles on a quarter less, and a session
    # keeps five to seven of them running on two cores (tests/conftest.py prints the figures).
    overrides.setdefault("jvm_options", "-XX:TieredStopAtLevel=1")
    return load_settings(
        data_dir=data_dir,
        broker_port=base,
        controller_port=base + 3,
        secure_port=base + 6,
        registry_port=base + 9,
        service_port=base + 10,
        broker_metrics_port=base + 77,
        prometheus_port=base + 80,
        console_port=base + 81,
        **overrides,
    )


def _start(settings: Settings, variant: Variant) -> Running:
    if variant.services:
        up = control.up(settings, timeout=180.0 if variant.secure else 90.0, secure=variant.secure)
        return Running(settings, up.conn)
    lifecycle.up(settings, brokers=variant.brokers, secure=variant.secure)
    return Running(settings, connect.resolve(settings))


def _stop(settings: Settings, variant: Variant) -> None:
    if variant.services:
        control.down(settings)
    lifecycle.down(settings)
