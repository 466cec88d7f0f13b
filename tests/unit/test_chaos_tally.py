"""The load's counts a chaos run prints (`chaos/tally.py`), and the orders each fault disrupted."""

from __future__ import annotations

import pytest

from kafkalab.chaos.tally import LoadTally, impacts
from kafkalab.connection import Connection
from kafkalab.load import shop
from kafkalab.load.plan import LoadPlan
from kafkalab.load.report import Disruption, LoadReport, Outcomes
from kafkalab.settings import load_settings


def _report() -> LoadReport:
    report = LoadReport(plan=LoadPlan(orders=20))
    report.orders = Outcomes(accepted=15, confirmed=14, cancelled=0, rejected=0, lost=1)
    report.failing = Outcomes(accepted=2, cancelled=2)
    report.refused = {
        "409 out of stock": 1,
        "503 Kafka did not acknowledge the order; try again": 1,
    }
    report.setup_retries = 3
    report.disruptions = [
        Disruption(1_000, 12.0, 2, None),
        Disruption(2_000, 0.2, 0, "409 out of stock"),
    ]
    return report


def test_the_tally_names_every_count_and_why_orders_were_refused() -> None:
    tally = LoadTally.of(_report())
    assert (tally.planned, tally.accepted, tally.refused, tally.lost) == (20, 17, 2, 1)
    assert tally.unaccounted == 1
    text = str(tally)
    assert text.startswith("20 planned, 17 accepted, 2 refused, 14 confirmed, 2 cancelled")
    assert "1 lost, 1 never sent" in text
    assert "1 × 503 Kafka did not acknowledge the order; try again" in text
    assert "1 order(s) and 3 set-up request(s) retried" in text


def test_disruptions_count_for_the_fault_window_they_fall_in() -> None:
    found = impacts(
        [(1_000, 5_000), (5_000, None)],
        [
            Disruption(500, 2.0, 1, None),  # sent before the first fault, answered inside it
            Disruption(1_500, 0.1, 0, "504 stock check timed out"),
            Disruption(6_000, 1.5, 0, None),
            Disruption(100, 0.1, 0, "409 out of stock"),  # before any fault: not counted
        ],
    )
    assert [(i.fault, i.delayed, i.refused) for i in found] == [(1, 1, 1), (2, 1, 0)]
    assert str(found[0]) == "fault 1: 1 order(s) delayed, 1 refused"


def test_retry_after_is_read_as_bounded_seconds() -> None:
    assert shop.retry_after(None) is None
    assert shop.retry_after("1") == 1.0
    assert shop.retry_after("600") == shop.MAX_RETRY_WAIT
    assert shop.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_a_load_that_dies_fails_the_run_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run 1 of issue 15: the load's thread died with a traceback and the verdict was green."""
    from kafkalab.chaos import runner
    from kafkalab.load import driver

    def dies(*_args: object, **_kwargs: object) -> LoadReport:
        raise KeyError("token")

    monkeypatch.setattr(driver, "run_load", dies)
    report = runner.ChaosReport("kill", "broker-2")
    clock = runner._Clock(report, lambda _m: None)
    thread = runner._start_load(
        load_settings(),
        Connection("127.0.0.1:1", "http://127.0.0.1:1"),
        10,
        report,
        clock,
        runner._InFlight(),
    )
    thread.join(5)
    assert not report.passed
    assert report.failure == "the load died: KeyError: 'token'"
    assert report.timeline[-1].detail == report.failure


def test_a_load_that_cannot_start_fails_before_any_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkalab.chaos import runner
    from kafkalab.load import driver

    def refused(*_args: object, **_kwargs: object) -> LoadReport:
        raise shop.LoadSetupFailed("logging a load user in answered 503 Kafka did not answer")

    monkeypatch.setattr(driver, "run_load", refused)
    report = runner.ChaosReport("kill", "broker-2")
    clock = runner._Clock(report, lambda _m: None)
    runner._start_load(
        load_settings(),
        Connection("127.0.0.1:1", "http://127.0.0.1:1"),
        10,
        report,
        clock,
        runner._InFlight(),
    )
    assert (
        report.failure
        == "the load stopped: logging a load user in answered 503 Kafka did not answer"
    )
