"""One `kafkalab load`: the load itself, the raw-Kafka baseline if asked, and the invariant
checker over everything that happened since the first order was sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafkalab.load import baseline as raw
from kafkalab.load.driver import OnProgress, run_load
from kafkalab.load.plan import LoadPlan
from kafkalab.load.report import Baseline, LoadReport
from kafkalab.settings import Settings

Notify = Callable[[str], None]


@dataclass
class LoadRun:
    report: LoadReport
    baseline: Baseline | None = None
    verify: Any = None
    """kafkalab.observe.verify's VerifyReport (`.passed`, `.invariants`), when it ran."""
    verify_skipped: str | None = None
    """Why the checker did not run (None when it did)."""

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
            "verify_skipped": self.verify_skipped,
            "passed": self.passed,
        }


def run(
    settings: Settings,
    plan: LoadPlan,
    with_baseline: bool = False,
    progress: OnProgress | None = None,
    notify: Notify | None = None,
) -> LoadRun:
    say = notify or (lambda _m: None)
    report = run_load(
        settings,
        orders=plan.orders,
        rate=plan.rate,
        users=plan.users,
        fail_rate=plan.fail_rate,
        concurrency=plan.concurrency,
        drain_timeout=plan.drain_timeout,
        progress=progress,
    )
    result = LoadRun(report)
    if with_baseline:
        say(
            f"baseline: raw produce→consume of {report.volume.records:,} records × "
            f"{report.volume.mean_size} B on the same broker"
        )
        result.baseline = raw.measure(
            settings,
            report.volume.records,
            report.volume.mean_size,
            report.pipeline_events_per_s,
        )
    try:
        # The checker reads every topic back: imported on use, and optional until it lands.
        from kafkalab.observe.verify import verify  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        result.verify_skipped = "the invariant checker (kafkalab.observe.verify) is not installed"
        return result
    say("running the invariant checker over everything since the first order")
    result.verify = verify(settings, since_ms=report.started_ms)
    return result
