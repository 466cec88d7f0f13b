"""How `scenario high-load` judges its run: rebalance, breaker open then closed, orders ended."""

from __future__ import annotations

from kafkalab.chaos.burst import CircuitChange
from kafkalab.load.plan import LoadPlan
from kafkalab.load.report import LoadReport, Outcomes
from kafkalab.scenarios.highload import GroupPicture, HighLoadPlan, HighLoadReport, _checks

ALL = [f"inventory-events[{p}]" for p in range(6)] + [f"payments.retry[{p}]" for p in range(6)]


def report(after: dict[str, list[str]], circuit: list[CircuitChange]) -> HighLoadReport:
    load = LoadReport(plan=LoadPlan(orders=10))
    load.orders = Outcomes(accepted=10, confirmed=10)
    return HighLoadReport(
        HighLoadPlan(orders=10),
        before=GroupPicture({"payment-0": ALL}, 500),
        after=GroupPicture(after, 0),
        circuit=circuit,
        load=load,
    )


SPREAD = {"payment-0": ALL[:4], "payment-1": ALL[4:8], "payment-2": ALL[8:]}
OPEN_THEN_CLOSED = [
    CircuitChange(10.0, 0, "closed", "open"),
    CircuitChange(15.0, 0, "open", "half_open"),
    CircuitChange(15.0, 0, "half_open", "closed"),
]


def verdict(r: HighLoadReport) -> dict[str, bool]:
    return {c.name: c.ok for c in _checks(r.plan, r)}


def test_a_full_run_passes_every_check() -> None:
    assert all(verdict(report(SPREAD, OPEN_THEN_CLOSED)).values())


def test_members_that_joined_but_own_nothing_are_not_a_scale_out() -> None:
    idle = {"payment-0": ALL, "payment-1": [], "payment-2": []}
    assert verdict(report(idle, OPEN_THEN_CLOSED))["payment scaled out"] is False


def test_a_breaker_that_never_opened_or_never_closed_again_fails() -> None:
    assert verdict(report(SPREAD, []))["breaker opened under the burst"] is False
    still_open = OPEN_THEN_CLOSED[:2]
    checks = verdict(report(SPREAD, still_open))
    assert checks["breaker opened under the burst"] and not checks["breaker closed after"]


def test_a_lost_order_fails_the_run() -> None:
    r = report(SPREAD, OPEN_THEN_CLOSED)
    assert r.load is not None
    r.load.orders = Outcomes(accepted=10, confirmed=9, lost=1)
    assert verdict(r)["every order ended"] is False
