"""One `kafkalab load`: the load itself, the raw-Kafka baseline if asked, and the invariant
checker over everything that happened since the first order was sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkalab.connection import Connection
from kafkalab.load import baseline as raw
from kafkalab.load.driver import OnProgress, run_load
from kafkalab.load.plan import LoadPlan
from kafkalab.load.report import Baseline, LoadReport
from kafkalab.settings import Settings

if TYPE_CHECKING:
    from kafkalab.observe.verify import VerifyReport

Notify = Callable[[str], None]


@dataclass
class LoadRun:
    report: LoadReport
    baseline: Baseline | None = None
    verify: VerifyReport | None = None
    """The invariant checker's verdict over the run's window (set once the checker ran)."""

    @property
    def passed(self) -> bool:
        """Every accepted order terminal and, when the checker ran, every invariant holds."""
        return self.report.all_terminal and (self.verify is None or bool(self.verify.passed))

    def to_jsonable(self) -> dict[str, Any]:
        from kafkalab import ui

        return {
            "report": self.report.to_jsonable(),
            "baseline": ui.to_jsonable(self.baseline),
            "verify": ui.to_jsonable(self.verify),
            "passed": self.passed,
        }


def run(
    settings: Settings,
    conn: Connection,
    plan: LoadPlan,
    with_baseline: bool = False,
    progress: OnProgress | None = None,
    notify: Notify | None = None,
) -> LoadRun:
    say = notify or (lambda _m: None)
    report = run_load(
        settings,
        conn,
        orders=plan.orders,
        rate=plan.rate,
        users=plan.users,
        fail_rate=plan.fail_rate,
        concurrency=plan.concurrency,
        drain_timeout=plan.drain_timeout,
        progress=progress,
        cancel_paid=plan.cancel_paid,
    )
    result = LoadRun(report)
    if with_baseline:
        say(
            f"baseline: raw produce→consume of {report.volume.records:,} records × "
            f"{report.volume.mean_size} B on the same broker"
        )
        result.baseline = raw.measure(
            conn,
            report.volume.records,
            report.volume.mean_size,
            report.pipeline_events_per_s,
        )
    from kafkalab.observe.verify import verify  # reads every topic back: imported on use

    say("running the invariant checker over everything since the first order")
    result.verify = verify(conn, since_ms=report.started_ms)
    return result
