"""`kafkalab chaos audit`: render the acknowledged-writes audit (`kafkalab.chaos.audit`)."""

from __future__ import annotations

import typer

from kafkalab import ui
from kafkalab.chaos import audit
from kafkalab.cluster import connect
from kafkalab.settings import load_settings

HELP = "audit: kill, pause, bounce, rolling or all."


def run(fault: str, acks: str, seconds: float | None, json: bool) -> None:
    """Run the audit, print its table (or JSON), exit 1 unless every check held."""
    audit.choose(fault, acks)  # a typo is refused before any broker is touched
    settings = load_settings()
    report = audit.run_audit(
        settings,
        connect.resolve(settings),
        fault,
        acks,
        seconds if seconds is not None else audit.DEFAULT_SECONDS,
        notify=None if json else ui.step,
    )
    if json:
        ui.print_json({**ui.to_jsonable(report), "passed": report.passed})
    else:
        render(report)
    if not report.passed:
        raise typer.Exit(1)


def render(report: audit.AuditReport) -> None:
    ui.table(
        "acknowledged writes, read back under read_committed",
        [
            "fault",
            "acks",
            "acknowledged",
            "lost",
            "duplicates",
            "reordered",
            "failed",
            "new leaders",
        ],
        [
            [
                a.fault,
                row.acks,
                row.tally.acknowledged,
                row.tally.lost,
                row.tally.duplicates,
                row.tally.reordered,
                row.tally.failed,
                ", ".join(f"{f.leaders_moved_s:.1f} s" for f in a.faults if f.leaders_moved_s)
                or "—",
            ]
            for a in report.audits
            for row in a.rows
        ],
    )
    for note in report.notes:
        ui.out.print(f"• {note}", soft_wrap=True)
    ui.verdict(report.checks, "verdict", headings=("expectation", "what came back"))
    if report.passed:
        ui.success("acks=all kept every acknowledged write, once and in order")
    else:
        ui.failure("a promise was broken — see the ✘ lines above")
