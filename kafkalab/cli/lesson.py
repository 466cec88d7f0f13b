"""`kafkalab lessons`, `kafkalab lesson N|next [--explain|--hint|--reset]`, `kafkalab dev check`."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.cluster import connect
from kafkalab.curriculum import manifest, progress
from kafkalab.curriculum.manifest import PARTS, Lesson
from kafkalab.errors import InvalidChoice
from kafkalab.settings import load_settings

STATUS_MARK = {progress.PASSED: "[green]✔ passed[/]", progress.FAILED: "[red]✘ failed[/]"}


def lessons(
    json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """The twenty lessons in four parts, with your progress (kept in the data dir)."""
    settings = load_settings()
    every = manifest.load()
    attempts = progress.load(settings)
    if json:
        ui.print_json(
            [
                {
                    "number": x.number,
                    "title": x.title,
                    "part": PARTS[x.part],
                    "status": progress.status(attempts, x.number),
                }
                for x in every
            ]
        )
        return
    for part, heading in PARTS.items():
        rows = [
            [x.number, x.title, STATUS_MARK.get(progress.status(attempts, x.number), "not started")]
            for x in every
            if x.part == part
        ]
        if rows:
            ui.table(heading, ["#", "lesson", "status"], rows)
    done = sum(1 for x in every if progress.status(attempts, x.number) == progress.PASSED)
    if done == len(every):
        ui.success(
            f"{done}/{len(every)} passed — every lesson; run any again with `kafkalab lesson N`"
        )
        return
    ui.out.print(
        f"{done}/{len(every)} passed — [bold]kafkalab lesson next[/] runs the first one not passed yet"
    )


def _choose(which: str, every: list[Lesson]) -> Lesson | None:
    """The lesson `which` names; None for 'next' when every lesson has passed (not an error:
    the course is done)."""
    if which == "next":
        attempts = progress.load(load_settings())
        for lesson in every:
            if progress.status(attempts, lesson.number) != progress.PASSED:
                return lesson
        return None
    try:
        number = int(which)
    except ValueError:
        number = -1
    if number < 1:
        raise InvalidChoice(
            f"'{which}' is not a lesson; give a number from 1 to {every[-1].number} or 'next'",
            hint="`kafkalab lessons` lists them",
        )
    return manifest.find(number, every)


def lesson(
    which: Annotated[
        str,
        typer.Argument(help="Lesson number (1–20), or 'next' for the first one not passed yet."),
    ],
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Read the lesson: the idea, the settings, the pitfalls, where it lives in kafkalab. Needs no cluster.",
        ),
    ] = False,
    hint: Annotated[bool, typer.Option("--hint", help="Print the lesson's hint.")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the lesson's topics and consumer groups.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the check's result as JSON.")] = False,
) -> None:
    """Run a lesson: it starts what it needs, narrates each step on the real cluster, and ends
    with a check of what you should have seen (✔/✘, exit 1 on ✘, with a hint).
    """
    every = manifest.load()
    chosen = _choose(which, every)
    if chosen is None:
        ui.success(f"all {len(every)} lessons passed — run any again with `kafkalab lesson N`")
        return
    if explain:
        from kafkalab.curriculum.runner import explain_text

        ui.markdown(explain_text(chosen))
        return
    if hint:
        ui.out.print(f"[bold]hint for lesson {chosen.number}[/] — {chosen.hint}")
        return
    settings = load_settings()
    from kafkalab.curriculum import runner  # clients and the lesson's imports: load on use

    if reset:
        removed = runner.reset(connect.resolve(settings), chosen)
        ui.success(
            f"lesson {chosen.number}: removed {len(removed)} topic(s), group(s) and schema subject(s)"
        )
        return
    ui.out.rule(f"[bold]Lesson {chosen.number} — {chosen.title}[/]")
    result = runner.run(settings, chosen, quiet=json)
    if json:
        ui.print_json(result)
    else:
        ui.verdict(result.checks, title=f"lesson {chosen.number} check")
        if result.passed:
            ui.success(
                f"lesson {chosen.number} passed ({result.seconds:.1f} s) — `kafkalab lesson next` goes on"
            )
        else:
            ui.failure(f"lesson {chosen.number} did not pass ({result.seconds:.1f} s)")
            ui.out.print(f"[bold]hint[/] — {chosen.hint}")
    if not result.passed:
        raise typer.Exit(1)


dev_app = typer.Typer(help="Tools for people who write lessons.", no_args_is_help=True)


@dev_app.command("check")
def dev_check() -> None:
    """Check every lesson folder against lessons.toml (text length, settings mentioned, demo
    and check present) and say how to fix what is wrong."""
    from kafkalab.curriculum.devcheck import check_all

    every = manifest.load()
    problems = check_all(every)
    if problems:
        ui.table(
            "lesson problems", ["lesson", "problem"], [[p.lesson, p.problem] for p in problems]
        )
        raise InvalidChoice(
            f"{len(problems)} problem(s) in the lessons folder",
            hint="fix each line above, then run `kafkalab dev check` again",
        )
    ui.success(f"{len(every)} lessons: every folder complete and consistent with lessons.toml")
