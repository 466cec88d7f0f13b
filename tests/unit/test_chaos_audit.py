"""The audit's accounting (`chaos.ledger`) and its verdict (`chaos.audit.judge`, `explain`)."""

from __future__ import annotations

import pytest

from kafkalab.chaos import audit, broker_ops, ledger
from kafkalab.errors import InvalidChoice
from tests.helpers import run_cli
from tests.unit.test_cli_errors import assert_one_line_error


def writes(key: str, *seqs: int) -> list[ledger.Write]:
    return [(key, s) for s in seqs]


def test_everything_acknowledged_and_read_back_once_in_order_is_clean() -> None:
    acked = writes("a", 0, 1, 2) + writes("b", 0, 1)
    tally = ledger.account(5, acked, 0, acked)
    assert tally == ledger.Tally(5, 5, 0, 0, 0, 0, 0)
    assert tally.clean


def test_an_acknowledged_write_missing_from_the_log_is_lost() -> None:
    acked = writes("a", 0, 1, 2, 3)
    tally = ledger.account(4, acked, 0, writes("a", 0, 1))
    assert (tally.lost, tally.duplicates, tally.reordered) == (2, 0, 0)
    assert tally.lost_examples == ("a#2", "a#3")
    assert not tally.clean


def test_a_write_read_twice_is_one_duplicate_not_a_reordering() -> None:
    acked = writes("a", 0, 1, 2)
    tally = ledger.account(3, acked, 0, writes("a", 0, 1, 1, 2, 1))
    assert (tally.lost, tally.duplicates, tally.reordered) == (0, 2, 0)


def test_a_write_that_comes_back_after_a_later_one_of_its_key_is_reordered() -> None:
    acked = writes("a", 0, 1, 2, 3) + writes("b", 0, 1)
    # a#1 and a#2 retried after a#3 went through; b is interleaved but in its own order.
    back = [("a", 0), ("b", 0), ("a", 3), ("a", 1), ("b", 1), ("a", 2)]
    tally = ledger.account(6, acked, 0, back)
    assert (tally.lost, tally.duplicates, tally.reordered) == (0, 0, 2)


def test_unacknowledged_writes_may_be_there_and_are_neither_lost_nor_a_failure() -> None:
    acked = writes("a", 0, 2)
    tally = ledger.account(3, acked, 1, writes("a", 0, 1, 2))
    assert tally.clean
    assert (tally.acknowledged, tally.failed, tally.unacknowledged_present) == (2, 1, 1)


def test_values_round_trip_and_foreign_records_are_skipped() -> None:
    assert ledger.decode(ledger.encode("key-3", 41)) == ("key-3", 41)
    assert ledger.decode(b"hello") is None
    assert ledger.decode(None) is None


def _audit(acks_all: ledger.Tally, acks_one: ledger.Tally, fault: str = "kill") -> audit.FaultAudit:
    record = broker_ops.FaultRecord(fault, 1, 0.0, "SIGKILL → broker-1", 9.8, 30.2)
    return audit.FaultAudit(
        fault,
        [record],
        [audit.AuditRow("all", "t-all", acks_all), audit.AuditRow("1", "t-1", acks_one)],
        rebalances=0,
    )


def test_acks_all_must_be_clean_while_acks_1_losses_are_shown_not_failed() -> None:
    clean = ledger.account(3, writes("a", 0, 1, 2), 0, writes("a", 0, 1, 2))
    lossy = ledger.account(3, writes("a", 0, 1, 2), 0, writes("a", 0))
    report = audit.AuditReport([_audit(clean, lossy)])
    report.checks = audit.judge(report.audits[0])
    assert report.passed
    (note,) = audit.explain(report)
    assert note.startswith("kill, acks=1: 2 of 3 acknowledged writes lost")

    broken = audit.AuditReport([_audit(lossy, clean)])
    broken.checks = audit.judge(broken.audits[0])
    assert not broken.passed
    failed = [c for c in broken.checks if c.ok is False]
    assert [c.name for c in failed] == [
        "kill, acks=all: every acknowledged write kept once, in order"
    ]
    assert "2 lost" in failed[0].detail and "a#1" in failed[0].detail


def test_acks_1_that_lost_nothing_says_so() -> None:
    clean = ledger.account(2, writes("a", 0, 1), 0, writes("a", 0, 1))
    report = audit.AuditReport([_audit(clean, clean)])
    assert audit.explain(report) == [
        "kill, acks=1: nothing lost this time — every follower had caught up when leadership "
        "moved; acks=1 promises no such luck"
    ]


def test_an_unrecovered_fault_and_a_rebalanced_static_member_fail_a_rolling_audit() -> None:
    clean = ledger.account(1, writes("a", 0), 0, writes("a", 0))
    rolling = _audit(clean, clean, fault="rolling")
    rolling.faults[0].in_sync_s = None
    rolling.rebalances = 2
    checks = audit.judge(rolling)
    failed = {c.name: c.detail for c in checks if c.ok is False}
    assert set(failed) == {
        "rolling broker-1: recovered",
        "rolling restart: no rebalance of the static member",
    }
    assert failed["rolling restart: no rebalance of the static member"] == (
        "2 rebalance(s) after the first assignment"
    )


def test_no_acknowledged_write_at_all_is_not_a_pass() -> None:
    nothing = ledger.account(0, [], 0, [])
    checks = audit.judge(_audit(nothing, nothing))
    assert [c.ok for c in checks] == [True, False]


def test_choices_are_checked_before_any_broker_is_touched() -> None:
    assert audit.choose("all", "both") == (audit.FAULTS, ("all", "1"))
    assert audit.choose("pause", "1") == (("pause",), ("1",))
    with pytest.raises(InvalidChoice, match="unknown fault 'crash'"):
        audit.choose("crash", "all")
    with pytest.raises(InvalidChoice, match="unknown acks mode '0'"):
        audit.choose("kill", "0")


def test_the_cli_refuses_a_bad_fault_in_one_line() -> None:
    assert_one_line_error(run_cli("chaos", "audit", "--fault", "crash"), 1, "unknown fault 'crash'")


def test_another_chaos_action_still_needs_its_target() -> None:
    assert_one_line_error(run_cli("chaos", "kill"), 1, "chaos kill needs a target")
