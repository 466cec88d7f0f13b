"""Chaos on the running platform: faults under load end with every invariant holding."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafkalab.chaos import runner
from kafkalab.cluster import lifecycle
from kafkalab.platform import control
from kafkalab.settings import Settings, load_settings
from tests.helpers import free_port_block

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = free_port_block(44)
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("kafkalab-chaos"),
        broker_port=base, controller_port=base + 1, registry_port=base + 2, secure_port=base + 3,
        service_port=base + 4, reservation_ttl=3.0,
    )
    try:
        control.up(settings)
        yield settings
    finally:
        control.down(settings)
        lifecycle.down(settings)


def test_killing_payment_during_a_load_loses_and_doubles_nothing(platform: Settings) -> None:
    report = runner.run(platform, "kill", "payment", during_load=150, every=4.0)
    kinds = [entry.kind for entry in report.timeline]
    assert report.faults >= 1 and "fault" in kinds
    assert report.recovery_seconds, report.timeline
    assert report.verify is not None
    failed = [i for i in report.verify.invariants if not i.ok]
    assert not failed, failed
    assert report.passed


def test_a_paused_member_is_evicted_then_resumes(platform: Settings) -> None:
    control.scale(platform, "notification", 2)
    try:
        paused = runner.run(platform, "pause", "notification", replica=1)
        assert any(e.kind == "rebalance" and "left" in e.detail for e in paused.timeline), paused.timeline
        resumed = runner.run(platform, "resume", "notification", replica=1)
        assert resumed.recovery_seconds, resumed.timeline
        assert resumed.passed
    finally:
        control.scale(platform, "notification", 1)
