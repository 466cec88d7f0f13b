"""`kafkalab scenario [NAME]`: drive the platform through a story and judge the outcome."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import scenarios, ui
from kafkalab.platform import control
from kafkalab.settings import load_settings


def scenario(
    name: Annotated[str | None, typer.Argument(help="Scenario to run; none lists them.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a scenario: starts what is missing, acts like a user, prints the causal event trace,
    the consumer lag and a verdict read back from the topics. Exit 1 if an expectation fails.
    """
    if name is None:
        found = scenarios.load_all()
        ui.table(
            "scenarios",
            ["name", "what happens", "from"],
            [[s.name, s.title, s.source] for s in found.values()]
            + [[SECURITY, "Secure mode's claims, each checked against the broker", "built-in"]],
        )
        ui.out.print("run one with [bold]kafkalab scenario NAME[/]")
        return
    if name == SECURITY:
        _security(json)
        return
    from kafkalab.scenarios import engine  # Avro + HTTP clients: load on use

    chosen = scenarios.get(name)
    settings = load_settings()
    seconds = control.up(settings, notify=ui.step)
    ui.step(f"platform ready ({seconds:.1f} s); running scenario {chosen.name}: {chosen.title}")
    result = engine.run(settings, chosen, notify=ui.step)
    if json:
        ui.print_json({**ui.to_jsonable(result), "passed": result.passed})
    else:
        ui.trace(result.trace)
        ui.table(
            "consumer lag",
            ["group", "partitions", "lag"],
            [[g.group, len(g.partitions), g.total] for g in result.lags],
        )
        ui.verdict(result.checks)
        if result.verify is not None:
            from kafkalab.cli.observe import render_report

            render_report(result.verify)
        if result.passed:
            ui.success(f"{chosen.name}: every expectation holds ({result.seconds:.1f} s)")
        else:
            failed = [c.name for c in result.checks if not c.ok]
            if result.verify is not None and not result.verify.passed:
                failed.append("the invariants")
            ui.failure(f"{chosen.name}: {', '.join(failed)} did not hold ({result.seconds:.1f} s)")
    if not result.passed:
        raise typer.Exit(1)


SECURITY = "security"


def _security(json: bool) -> None:
    """Secure cluster + platform (started if missing), then each claim shown as ✔/✘."""
    from kafkalab.security import scenario as security

    settings = load_settings()
    seconds = control.up(settings, notify=ui.step, secure=True)
    ui.step(f"secure platform ready ({seconds:.1f} s); checking its claims")
    result = security.run(settings, notify=ui.step)
    if json:
        ui.print_json({**ui.to_jsonable(result), "passed": result.passed})
    else:
        ui.verdict(result.checks)
        if result.passed:
            ui.success(f"security: every claim holds ({result.seconds:.1f} s)")
        else:
            failed = [c.name for c in result.checks if not c.ok]
            ui.failure(f"security: {'; '.join(failed)} did not hold ({result.seconds:.1f} s)")
    if not result.passed:
        raise typer.Exit(1)
