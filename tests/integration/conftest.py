"""One real Kafka broker (+ schema registry) for the whole test session.

It is started by the same code users run (`kafkalab.cluster.lifecycle.up`) on ports of its
own and a throw-away data dir, so a learner's cluster on 9092 is never touched. Set
KAFKALAB_TEST_BOOTSTRAP (and KAFKALAB_TEST_REGISTRY_URL) to run the suite against an
existing cluster instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kafkalab.cluster import lifecycle
from kafkalab.settings import Settings, load_settings
from tests.helpers import free_port_block


def session_settings(data_dir: Path) -> Settings:
    if os.environ.get("KAFKALAB_TEST_BOOTSTRAP"):
        return load_settings(
            bootstrap=os.environ["KAFKALAB_TEST_BOOTSTRAP"],
            registry_url=os.environ.get("KAFKALAB_TEST_REGISTRY_URL"),
        )
    base = free_port_block(4)
    return load_settings(
        data_dir=data_dir,
        broker_port=base,
        controller_port=base + 1,
        registry_port=base + 2,
        secure_port=base + 3,
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = session_settings(tmp_path_factory.mktemp("kafkalab-session"))
    if settings.bootstrap:
        yield settings
        return
    lifecycle.up(settings)
    try:
        yield settings
    finally:
        lifecycle.down(settings)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names nobody else in the session uses: `unique("orders")` → "orders-3f2a9c1b0d"."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
