"""What the integration tests run against: real Kafka brokers, started by the same code users
run (`kafkalab.cluster.lifecycle`, `kafkalab.platform.control`) on ports of their own and
throw-away data dirs, so a learner's cluster on 9092 is never touched.

- `cluster` + `conn`: one broker and the registry for the whole session (no services).
  KAFKALAB_TEST_BOOTSTRAP (and KAFKALAB_TEST_REGISTRY_URL) point it at an existing cluster.
- `platform`, `short_ttl_platform`, `high_load_platform`, `secure_platform`, `three_brokers`:
  the shapes in `pool.VARIANTS`, each started once per session (see pool.py); tests/conftest.py
  orders the tests so that those of one shape run together.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkalab.cluster import connect, lifecycle
from kafkalab.connection import Connection
from kafkalab.settings import Settings, load_settings
from tests.integration.pool import (
    POOLS,
    STARTS,
    VARIANTS,
    Pool,
    Running,
    Started,
    local_settings,
)


@pytest.fixture(scope="session", autouse=True)
def _count_cluster_starts() -> Iterator[None]:
    """Every broker start of the session (the figure CI time depends on), printed at the end:
    `lifecycle.up` is what the fixtures, the CLI in-process and the lessons all go through."""
    original = lifecycle.up

    def counting(settings: Settings, *args: Any, **kwargs: Any) -> lifecycle.UpResult:
        result = original(settings, *args, **kwargs)
        nodes = [name for name in result.started if name != "registry"]
        if nodes:
            STARTS.append(
                Started(f"{settings.data_dir.name} ({len(nodes)} node(s))", result.seconds)
            )
        return result

    lifecycle.up = counting  # type: ignore[assignment]
    try:
        yield
    finally:
        lifecycle.up = original  # type: ignore[assignment]


def session_settings(data_dir: Path) -> Settings:
    if os.environ.get("KAFKALAB_TEST_BOOTSTRAP"):
        return load_settings(
            bootstrap=os.environ["KAFKALAB_TEST_BOOTSTRAP"],
            registry_url=os.environ.get("KAFKALAB_TEST_REGISTRY_URL"),
        )
    return local_settings(data_dir)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = session_settings(tmp_path_factory.mktemp("kafkalab-session"))
    if settings.external:
        yield settings
        return
    lifecycle.up(settings)
    try:
        yield settings
    finally:
        lifecycle.down(settings)


@pytest.fixture(scope="session")
def conn(cluster: Settings) -> Connection:
    """The session cluster's connection, resolved once like a command resolves it."""
    return connect.resolve(cluster)


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    shared = Pool(tmp_path_factory.mktemp("pool"))
    POOLS.append(shared)
    try:
        yield shared
    finally:
        POOLS.remove(shared)
        shared.stop()


def _variant_fixture(name: str) -> Callable[..., Running]:
    @pytest.fixture(scope="module", name=name)
    def fixture(pool: Pool) -> Running:
        return pool.get(name)

    fixture.__doc__ = VARIANTS[name].why
    return fixture


platform = _variant_fixture("platform")
short_ttl_platform = _variant_fixture("short_ttl_platform")
high_load_platform = _variant_fixture("high_load_platform")
secure_platform = _variant_fixture("secure_platform")
three_brokers = _variant_fixture("three_brokers")


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names nobody else in the session uses: `unique("orders")` → "orders-3f2a9c1b0d"."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
