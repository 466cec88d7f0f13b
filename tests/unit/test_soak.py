"""`kafkalab soak`: the fault plan, the table's rows and the verdict (`chaos.soak`)."""

from __future__ import annotations

from kafkalab.chaos import broker_ops, soak
from kafkalab.chaos.runner import LoadTally
from kafkalab.observe.verify import ANALYTICS_TOTALS, Invariant, VerifyReport


def _report(**changes: object) -> soak.SoakReport:
    report = soak.SoakReport(minutes=10, fault_every=60, rate=5, started=1000.0)
    report.faults = [
        broker_ops.FaultRecord("kill", 1, 1060.4, "SIGKILL → broker-1", 10.2, 41.0),
        broker_ops.FaultRecord("pause", 2, 1120.0, "SIGSTOP → broker-2", 9.1, 12.5),
    ]
    report.tally = LoadTally(3000, 2990, 10, 2990, 0, 0, 0)
    report.verify = VerifyReport(None, 2990, 0, {}, 0, [Invariant(name="terminal state", ok=True)])
    for name, value in changes.items():
        setattr(report, name, value)
    return report


def test_faults_cycle_through_every_kind_and_every_broker() -> None:
    assert soak.plan_faults(5) == [
        ("kill", 1),
        ("pause", 2),
        ("bounce", 3),
        ("rolling", 1),
        ("kill", 2),
    ]


def test_the_table_has_one_row_per_fault_with_its_recovery() -> None:
    report = _report()
    report.faults.append(broker_ops.FaultRecord("bounce", 3, 1180.0, "SIGTERM → broker-3"))
    assert soak.fault_rows(report) == [
        ["+60 s", "kill", "broker-1", "10.2 s", "41.0 s"],
        ["+120 s", "pause", "broker-2", "9.1 s", "12.5 s"],
        ["+180 s", "bounce", "broker-3", "—", "—"],
    ]


def test_a_clean_soak_passes() -> None:
    report = _report()
    assert report.passed
    assert [c.name for c in report.checks] == [
        "every fault recovered",
        "the load ran to its end",
        "accepted orders lost",
        "orders charged twice",
        "the invariant checker",
    ]


def test_lost_doubled_unrecovered_or_a_dead_load_each_fail_it() -> None:
    assert not _report(lost=1).passed
    assert not _report(doubled=2).passed
    assert not _report(problem="the load stopped: login answered 503").passed
    assert not _report(tally=None).passed
    assert not _report(faults=[]).passed
    report = _report()
    report.faults[1].in_sync_s = None
    failed = [c for c in report.checks if c.ok is False]
    assert [c.detail for c in failed] == ["2 fault(s); not recovered: pause broker-2"]


def test_a_broken_invariant_fails_it_and_names_the_rule() -> None:
    broken = VerifyReport(None, 5, 0, {}, 0, [Invariant(name="at most one payment", ok=False)])
    report = _report(verify=broken)
    assert not report.passed
    assert report.checks[-1].detail == "5 orders judged; broken: at most one payment"


def test_the_tallies_of_a_load_started_again_add_up() -> None:
    first = LoadTally(900, 100, 3, 98, 1, 1, 0, {"504 stock check timed out": 3}, 3, 1)
    second = LoadTally(500, 490, 2, 488, 2, 0, 0, {"504 stock check timed out": 1, "503 x": 1})
    total = LoadTally.total([first, second])
    assert total == LoadTally(
        1400, 590, 5, 586, 3, 1, 0, {"504 stock check timed out": 4, "503 x": 1}, 3, 1
    )


def test_analytics_counting_orders_twice_is_shown_not_failed() -> None:
    """At-least-once analytics may count twice after a fault (lesson 16): a `!` with the
    figure, while every other rule still decides. A total short of the orders fails."""
    replayed = Invariant(name=ANALYTICS_TOTALS, ok=False, surplus=3)
    held = Invariant(name="terminal state", ok=True)
    report = _report(verify=VerifyReport(None, 40, 0, {}, 0, [held, replayed]))
    assert report.passed
    assert soak.counted_twice(report.verify) == 3
    shown = report.checks[-1]
    assert (shown.name, shown.ok) == ("analytics totals, at-least-once", None)
    assert "counted 3 order(s) twice" in shown.detail

    short = Invariant(name=ANALYTICS_TOTALS, ok=False, surplus=0)
    assert not _report(verify=VerifyReport(None, 40, 0, {}, 0, [held, short])).passed
    broken = Invariant(name="at most one payment", ok=False)
    both = VerifyReport(None, 40, 0, {}, 0, [broken, replayed])
    assert not _report(verify=both).passed
