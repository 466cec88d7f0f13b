"""Which chaos runs a background load, and how many orders (`runner.planned_load`)."""

from __future__ import annotations

import pytest

from kafkalab.chaos import runner
from kafkalab.errors import InvalidChoice


@pytest.mark.parametrize("action", ["kill", "pause", "restart"])
def test_a_service_fault_runs_the_default_load(action: str) -> None:
    assert runner.planned_load(action, "payment", None, no_load=False) == runner.DEFAULT_LOAD
    assert runner.DEFAULT_LOAD == 200


def test_an_asked_count_wins_and_no_load_means_none() -> None:
    assert runner.planned_load("kill", "payment", 30, no_load=False) == 30
    assert runner.planned_load("kill", "payment", None, no_load=True) is None
    with pytest.raises(InvalidChoice):
        runner.planned_load("kill", "payment", 30, no_load=True)


def test_resume_brokers_and_containers_stay_bare_unless_asked() -> None:
    assert runner.planned_load("resume", "payment", None, no_load=False) is None
    assert runner.planned_load("kill", "broker-2", None, no_load=False) is None
    assert runner.planned_load("kill", "payment", None, no_load=False, docker=True) is None
    assert runner.planned_load("kill", "broker-2", 50, no_load=False) == 50
