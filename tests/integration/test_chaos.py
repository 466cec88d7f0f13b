"""Chaos on the running platform: faults under load end with every invariant holding."""

from __future__ import annotations

import json

import pytest

from kafkalab.chaos import runner
from kafkalab.platform import control, files
from kafkalab.settings import Settings, settings_env
from tests.helpers import run_cli
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_killing_payment_during_a_load_loses_and_doubles_nothing(
    short_ttl_platform: Running,
) -> None:
    shop = short_ttl_platform
    report = runner.run(shop.settings, shop.conn, "kill", "payment", during_load=150, every=4.0)
    kinds = [entry.kind for entry in report.timeline]
    assert report.faults >= 1 and "fault" in kinds
    assert report.recovery_seconds, report.timeline
    assert report.verify is not None
    failed = [i for i in report.verify.invariants if not i.ok]
    assert not failed, failed
    assert report.passed


def test_a_paused_member_is_evicted_then_resumes(short_ttl_platform: Running) -> None:
    shop = short_ttl_platform
    control.scale(shop.settings, "notification", 2)
    try:
        paused = runner.run(shop.settings, shop.conn, "pause", "notification", replica=1)
        assert any(e.kind == "rebalance" and "left" in e.detail for e in paused.timeline), (
            paused.timeline
        )
        assert paused.verify is None and paused.unchecked  # judged on resume, not while paused
        resumed = runner.run(shop.settings, shop.conn, "resume", "notification", replica=1)
        assert resumed.recovery_seconds, resumed.timeline
        assert resumed.passed
    finally:
        control.scale(shop.settings, "notification", 1)


def _restarts(settings: Settings, service: str, replica: int) -> int:
    rows = files.read_status(settings).replicas
    return next(r.restarts for r in rows if r.service == service and r.replica == replica)


def _last_exit(settings: Settings, service: str, replica: int) -> int | None:
    """How the replica's previous process ended (-9: SIGKILL, -6: an abort in native code)."""
    rows = files.read_status(settings).replicas
    return next(r.last_exit for r in rows if r.service == service and r.replica == replica)


def _not_routine(log: str) -> str:
    """What ended the replica: its log's lines other than the thousands of deliveries and
    requests, up to its last restart ("started"), and any line that is not JSON (a traceback)."""
    routine = ('"notification delivered"', '"notifications requested"')
    lines = [line for line in log.splitlines() if not any(r in line for r in routine)]
    starts = [i for i, line in enumerate(lines) if '"msg": "started"' in line]
    end = starts[-1] if len(starts) > 1 else len(lines)
    raw = [line for line in lines if not line.startswith("{")]
    return "\n".join(lines[max(0, end - 30) : end + 1] + ["-- not JSON:"] + raw[-40:])


def test_a_pause_under_load_is_resumed_judged_and_survived(short_ttl_platform: Running) -> None:
    """The paused replica held a batch when SIGSTOP came; after SIGCONT its commit is refused
    (the group moved on). It must carry on, not crash, and the orders must all add up."""
    shop = short_ttl_platform
    before = _restarts(shop.settings, "notification", 0)
    report = runner.run(shop.settings, shop.conn, "pause", "notification", during_load=120)
    kinds = [entry.kind for entry in report.timeline]
    assert "fault" in kinds and "recovered" in kinds, report.timeline
    assert report.unchecked is None and report.verify is not None
    assert report.passed, [i for i in report.verify.invariants if not i.ok]
    log = files.log_file(shop.settings, "notification", 0)
    restarted = _restarts(shop.settings, "notification", 0) - before
    # On SIGCONT a member's retried JoinGroup can fence its own static instance id (a fatal
    # client error): the replica then exits on purpose for a fresh one (runtime.fail), which
    # is not a crash. Anything else that ended it is.
    assert restarted == 0 or (
        restarted == 1 and "stopping so the supervisor restarts this replica" in log.read_text()
    ), f"exit status {_last_exit(shop.settings, 'notification', 0)}\n" + _not_routine(
        log.read_text()
    )


def test_a_bare_kill_runs_a_load_and_judges_its_orders(short_ttl_platform: Running) -> None:
    """`kafkalab chaos kill payment` with no load option runs one in the background (a small
    one here, --orders 30, where a user gets 200): orders are in flight when the fault lands,
    their counts are printed, and the checker judges them."""
    shop = short_ttl_platform
    env = settings_env(shop.settings)
    run = run_cli("chaos", "kill", "payment", "--orders", "30", "--json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    tally = report["tally"]
    assert tally is not None, report["timeline"]
    assert tally["planned"] == 30 and tally["accepted"] + tally["refused"] == 30, tally
    assert tally["accepted"] > 0 and tally["lost"] == 0, tally
    assert tally["confirmed"] + tally["cancelled"] + tally["rejected"] == tally["accepted"]
    fault = next(e for e in report["timeline"] if e["kind"] == "fault")
    assert "order(s) in flight" in fault["detail"], fault
    assert any(e["kind"] == "recovered" for e in report["timeline"]), report["timeline"]
    assert report["verify"]["orders"] >= tally["accepted"], report["verify"]
    assert report["passed"] is True
