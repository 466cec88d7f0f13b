"""The learning loop: `kafkalab lessons`, `lesson N|next` (the exercise, graded on the real
cluster; `--demo`, `--explain [--more]`, `--hint`, `--solution`, `--reset`, `--break`), `init`,
`watch`, and `dev check` for the people who write lessons."""

from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kafkalab import ui
from kafkalab.curriculum import manifest, progress, workspace
from kafkalab.curriculum.manifest import PARTS, Lesson, Question
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.settings import Settings, load_settings

if TYPE_CHECKING:
    from kafkalab.curriculum.breaks import BreakResult
    from kafkalab.curriculum.exercises import ExerciseResult
    from kafkalab.curriculum.predictions import Scored

STATUS_MARK = {progress.PASSED: "[green]✔ passed[/]", progress.FAILED: "[red]✘ failed[/]"}
DEMO_MARK = {progress.PASSED: "[green]✔ watched[/]", progress.FAILED: "[red]✘ failed[/]"}


def _break_mark(lesson: Lesson, done: dict[int, progress.LessonProgress]) -> str:
    if lesson.breaking is None:
        return ""
    return "[magenta]broke it[/]" if progress.broke(done, lesson.number) else "[dim]not yet[/]"


def _done(lesson: Lesson, every: dict[int, progress.LessonProgress]) -> bool:
    """A lesson is done when its exercise passed (its demo, for a lesson without one)."""
    if workspace.has_exercise(lesson):
        return progress.exercise_status(every, lesson.number) == progress.PASSED
    return progress.status(every, lesson.number) == progress.PASSED


def _predicted(entry: progress.LessonProgress | None) -> str:
    if entry is None or not entry.predicted:
        return ""
    return f"{entry.predicted_right}/{entry.predicted} right"


def lessons(
    json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """The 22 lessons in four parts, with your progress: demo watched, exercise passed,
    predictions right (kept in the data dir)."""
    settings = load_settings()
    every = manifest.load()
    done = progress.load(settings)
    if json:
        ui.print_json(
            [
                {
                    "number": x.number,
                    "title": x.title,
                    "part": PARTS[x.part],
                    "demo": progress.status(done, x.number),
                    "exercise": progress.exercise_status(done, x.number)
                    if workspace.has_exercise(x)
                    else None,
                    "broke": progress.broke(done, x.number) if x.breaking else None,
                    "predicted": done[x.number].predicted if x.number in done else 0,
                    "predicted_right": done[x.number].predicted_right if x.number in done else 0,
                    "done": _done(x, done),
                }
                for x in every
            ]
        )
        return
    for part, heading in PARTS.items():
        rows = [
            [
                x.number,
                x.title,
                DEMO_MARK.get(progress.status(done, x.number), "—"),
                STATUS_MARK.get(progress.exercise_status(done, x.number), "not started")
                if workspace.has_exercise(x)
                else "[dim]none yet[/]",
                _break_mark(x, done),
                _predicted(done.get(x.number)),
            ]
            for x in every
            if x.part == part
        ]
        if rows:
            ui.table(heading, ["#", "lesson", "demo", "exercise", "break", "predictions"], rows)
    finished = sum(1 for x in every if _done(x, done))
    if finished == len(every):
        ui.success(
            f"{finished}/{len(every)} done — every lesson; run any again with `kafkalab lesson N`"
        )
        return
    ui.out.print(
        f"{finished}/{len(every)} done — [bold]kafkalab lesson next[/] opens the first one not "
        "done yet, [bold]kafkalab watch[/] grades it each time you save"
    )


def _next(every: list[Lesson], settings: Settings) -> Lesson | None:
    done = progress.load(settings)
    return next((x for x in every if not _done(x, done)), None)


def _choose(which: str, every: list[Lesson], settings: Settings) -> Lesson | None:
    """The lesson `which` names; None for 'next' when every lesson is done (not an error)."""
    if which == "next":
        return _next(every, settings)
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


def goal(file: Path) -> str:
    """The exercise's docstring up to its first blank line after 'Goal:' (what to do)."""
    try:
        text = ast.get_docstring(ast.parse(file.read_text())) or ""
    except SyntaxError:
        return ""
    paragraphs = [p.strip() for p in text.split("\n\n")]
    chosen = [p for p in paragraphs if p.startswith("Goal:")] or paragraphs[1:2]
    return " ".join(" ".join(chosen).split())


def _ask(questions: tuple[Question, ...]) -> list[str]:
    from kafkalab.curriculum import predictions

    ui.out.print("[bold]Predict first[/] — the run will show who was right.")
    answers = []
    for question in questions:
        while True:
            prompt = question.ask
            if question.choices:
                prompt += "\n  " + predictions.choices_text(question)
            raw = ui.ask(prompt)
            try:
                answers.append(predictions.normalise(question, raw))
                break
            except KafkalabError as exc:
                ui.error(str(exc), exc.hint)
    return answers


def _answers(
    questions: tuple[Question, ...], predict: str | None, no_predict: bool, quiet: bool
) -> list[str] | None:
    from kafkalab.curriculum import predictions

    if not questions or no_predict:
        return None
    if predict is not None:
        return predictions.parse(questions, predict)
    if quiet or not sys.stdin.isatty():
        return None
    return _ask(questions)


def _show_hint(settings: Settings, lesson: Lesson, advance: bool) -> None:
    info = lesson.exercise
    if info is None or not info.hints:
        ui.out.print(f"[bold]hint for lesson {lesson.number}[/] — {lesson.hint}")
        return
    total = len(info.hints)
    if advance:
        index = progress.take_hint(settings, lesson.number, total)
    else:  # after a ✘: the last hint taken, or the first (which counts as taken)
        seen = progress.hints_seen(settings, lesson.number)
        index = max(seen, 1) - 1
        if seen == 0:
            progress.take_hint(settings, lesson.number, total)
    more = (
        f" — `kafkalab lesson {lesson.number} --hint` for the next one"
        if index + 1 < total
        else f" — `kafkalab lesson {lesson.number} --solution` shows a reference solution"
    )
    ui.out.print(f"[bold]hint {index + 1}/{total}[/] {info.hints[index]}[dim]{more}[/]")


def _show_predictions(scored_all: list[Scored], note: str = "") -> None:
    """The learner's answers beside the run's truths; a why after each wrong one."""
    scored = [s for s in scored_all if s.answer is not None]
    if not scored:
        return
    ui.table(
        "your predictions",
        ["", "question", "you said", "the run showed"],
        [
            [ui.mark(s.right), s.question.ask, s.answer, s.truth if s.truth is not None else "—"]
            for s in scored
        ],
    )
    wrong = [s for s in scored if s.right is False and s.question.why]
    if wrong and note:
        ui.out.print(f"[dim]{note}[/]")
    for s in wrong:
        ui.out.print(f"[yellow]why[/] — {s.question.why}")


def render_exercise(settings: Settings, lesson: Lesson, result: ExerciseResult) -> None:
    ui.verdict(
        result.checks,
        title=f"lesson {lesson.number} exercise",
        headings=("expectation", "what the broker shows"),
    )
    _show_predictions(
        result.predictions,
        ""
        if result.passed
        else "The run showed what your program does, and it has not passed yet; "
        "each why says what a correct one does.",
    )
    if result.passed:
        broken = (
            f"; `kafkalab lesson {lesson.number} --break` breaks it on purpose"
            if lesson.breaking is not None
            else ""
        )
        ui.success(
            f"lesson {lesson.number} exercise passed ({result.seconds:.1f} s) — "
            f"`kafkalab lesson {lesson.number} --solution` compares yours with ours{broken}; "
            "`kafkalab lesson next` goes on"
        )
    else:
        ui.failure(f"lesson {lesson.number} exercise did not pass ({result.seconds:.1f} s)")
        crashed = result.checks[0].ok is False  # "your program ran": its fix names the line
        if not crashed:
            _show_hint(settings, lesson, advance=False)


def grade(
    settings: Settings,
    lesson: Lesson,
    quiet: bool,
    answers: list[str] | None,
) -> ExerciseResult:
    from kafkalab.curriculum import exercises

    file = workspace.find(settings).exercise(lesson)
    return exercises.run(settings, lesson, file, quiet=quiet, answers=answers)


def introduce(settings: Settings, lesson: Lesson) -> Path:
    file = workspace.find(settings).exercise(lesson)
    ui.out.print(f"[bold]Your exercise:[/] {file}")
    said = goal(file)
    if said:
        ui.out.print(said, soft_wrap=False)
    return file


def lesson(
    which: Annotated[
        str,
        typer.Argument(help="Lesson number (1–22), or 'next' for the first one not done yet."),
    ],
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Watch it done: kafkalab's own reference run, narrated, with its check.",
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Read the lesson: the idea, the settings, the pitfalls, where it lives in "
            "kafkalab, and three questions. Needs no cluster.",
        ),
    ] = False,
    more: Annotated[
        bool,
        typer.Option(
            "--more", help="With --explain: the whole chapter, its More section included."
        ),
    ] = False,
    hint: Annotated[
        bool,
        typer.Option("--hint", help="The next hint for the exercise (each call gives one more)."),
    ] = False,
    solution: Annotated[
        bool,
        typer.Option(
            "--solution",
            help="The reference solution as a diff against your file (after a pass, or with --yes).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="With --solution: show it before you have passed.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Put the original exercise file back (yours is kept in the data dir) and delete "
            "the lesson's topics, groups and schema subjects.",
        ),
    ] = False,
    predict: Annotated[
        str | None,
        typer.Option(
            "--predict",
            help="Your answers to the lesson's questions, comma-separated, without being asked "
            "(e.g. --predict 3,12).",
        ),
    ] = None,
    no_predict: Annotated[
        bool, typer.Option("--no-predict", help="Run without the prediction questions.")
    ] = False,
    breaking: Annotated[
        bool,
        typer.Option(
            "--break",
            help="Break your working exercise on purpose: make the one change the lesson names "
            "(or type the command it names), predict the damage, and watch it happen.",
        ),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Do a lesson's exercise: edit the file it names, then run this again. kafkalab prepares
    the topics, runs your file against the real cluster and judges what reached the broker
    (✔, or ✘ with the first thing missing and a hint; exit 1). Before the run it asks what you
    expect to happen, and after it shows what really did."""
    settings = load_settings()
    every = manifest.load()
    if more and not explain:
        raise InvalidChoice(
            "--more goes with --explain: it prints the whole chapter",
            hint=f"`kafkalab lesson {which} --explain --more`",
        )
    chosen = _choose(which, every, settings)
    if chosen is None:
        ui.success(f"all {len(every)} lessons done — run any again with `kafkalab lesson N`")
        return
    if explain:
        from kafkalab.curriculum import runner

        ui.markdown(runner.explain_text(chosen) if more else runner.explain_brief(chosen))
        return
    if hint:
        _show_hint(settings, chosen, advance=True)
        return
    has_exercise = workspace.has_exercise(chosen)
    if solution:
        _solution(settings, chosen, yes)
        return
    if reset:
        _reset(settings, chosen, has_exercise)
        return
    if breaking:
        _break(settings, chosen, predict, no_predict, json)
        return
    if demo or not has_exercise:
        if not demo and not json:
            ui.out.print(f"[dim]Lesson {chosen.number} has no exercise yet: here is its demo.[/]")
        _demo(settings, chosen, json)
        return
    if not json:
        ui.out.rule(f"[bold]Lesson {chosen.number} — {chosen.title} · exercise[/]")
        introduce(settings, chosen)
    questions = chosen.exercise.questions if chosen.exercise else ()
    answers = _answers(questions, predict, no_predict, quiet=json)
    result = grade(settings, chosen, quiet=json, answers=answers)
    if json:
        ui.print_json(result)
    else:
        render_exercise(settings, chosen, result)
    if not result.passed:
        raise typer.Exit(1)


def _break(
    settings: Settings, chosen: Lesson, predict: str | None, no_predict: bool, json: bool
) -> None:
    from kafkalab.curriculum import breaks

    info = breaks.info_of(chosen)
    if not workspace.has_exercise(chosen):
        raise InvalidChoice(f"lesson {chosen.number}'s break needs its exercise, and it has none")
    file = workspace.find(settings).exercise(chosen)
    breaks.require_flip(chosen, file)  # before the questions: nothing to predict without it
    if not json:
        ui.out.rule(f"[bold]Lesson {chosen.number} — {chosen.title} · break it[/]")
        ui.out.print(f"[bold]Your exercise:[/] {file}")
        ui.out.print(f"[bold]The break:[/] {info.do}", soft_wrap=False)
    answers = _answers(info.questions, predict, no_predict, quiet=json)
    result = breaks.run(settings, chosen, file, quiet=json, answers=answers)
    if json:
        ui.print_json(result)
    else:
        render_break(chosen, result)
    if not result.broke:
        raise typer.Exit(1)


def render_break(lesson: Lesson, result: BreakResult) -> None:
    ui.verdict(
        result.checks,
        title=f"lesson {lesson.number}, broken on purpose",
        headings=("expectation", "what the broker shows"),
    )
    if result.broke and result.failed is not None:
        ui.out.print(f"[bold magenta]You broke it[/] — {result.failed.detail}")
        ui.out.print(result.shows)
        if result.also:
            names = "; ".join(c.name for c in result.also)
            ui.out.print(
                f"[dim]Also ✘, and not the break's doing: {names} — your exercise did not pass "
                f"before the break; `kafkalab lesson {lesson.number}` shows it alone.[/]"
            )
    _show_predictions(result.predictions)
    ui.out.print(f"[bold]undo[/] — {result.undo}")
    if result.broke:
        ui.success(f"lesson {lesson.number}: broken on purpose, and seen ({result.seconds:.1f} s)")
        return
    if result.failed is None:
        ui.failure(
            f"the run ended before it could show the break ({result.seconds:.1f} s): the "
            "first ✘ above says why"
        )
    else:
        ui.failure(
            f"the break did not show: “{result.failed.name}” still holds — is your change "
            "the one the break names, and does the program still run to its end?"
        )


def _demo(settings: Settings, chosen: Lesson, json: bool) -> None:
    from kafkalab.curriculum import runner  # clients and the lesson's imports: load on use

    if not json:
        ui.out.rule(f"[bold]Lesson {chosen.number} — {chosen.title} · demo[/]")
    result = runner.run(settings, chosen, quiet=json)
    if json:
        ui.print_json(result)
    else:
        ui.verdict(result.checks, title=f"lesson {chosen.number} check")
        if result.passed:
            follow = (
                f"now do it yourself: `kafkalab lesson {chosen.number}`"
                if workspace.has_exercise(chosen)
                else "`kafkalab lesson next` goes on"
            )
            ui.success(f"lesson {chosen.number} demo passed ({result.seconds:.1f} s) — {follow}")
        else:
            ui.failure(f"lesson {chosen.number} demo did not pass ({result.seconds:.1f} s)")
            ui.out.print(f"[bold]hint[/] — {chosen.hint}")
    if not result.passed:
        raise typer.Exit(1)


def _solution(settings: Settings, chosen: Lesson, yes: bool) -> None:
    if not workspace.has_exercise(chosen):
        raise InvalidChoice(
            f"lesson {chosen.number} has no exercise, so no solution",
            hint=f"`kafkalab lesson {chosen.number} --demo` shows it done",
        )
    passed = progress.exercise_status(progress.load(settings), chosen.number) == progress.PASSED
    if not passed and not yes:
        if not sys.stdin.isatty():
            raise InvalidChoice(
                f"you have not passed lesson {chosen.number}'s exercise yet",
                hint=f"try `kafkalab lesson {chosen.number} --hint` first, or add --yes to see "
                "the solution anyway",
            )
        if not typer.confirm("You have not passed it yet. Show the solution anyway?"):
            return
    mine = workspace.find(settings).exercise(chosen)
    ours = workspace.solution(chosen)
    theirs = mine.read_text().splitlines(keepends=True) if mine.is_file() else []
    diff = "".join(
        difflib.unified_diff(
            theirs, ours.read_text().splitlines(keepends=True), str(mine), "reference solution"
        )
    )
    if not diff:
        ui.success("your file is the reference solution, line for line")
        return
    ui.diff(diff)
    ui.out.print(
        "[dim]- lines are yours, + lines are the reference; any correct answer passes — "
        "the grader judges what reaches the broker, not the text.[/]"
    )


def _reset(settings: Settings, chosen: Lesson, has_exercise: bool) -> None:
    from kafkalab.cluster import connect
    from kafkalab.curriculum import runner

    if has_exercise:
        found = workspace.find(settings)
        kept = workspace.restore(settings, found, chosen)
        where = found.exercise(chosen)
        if kept is None:
            ui.success(f"{where} is already the original exercise")
        else:
            ui.success(f"{where} is the original exercise again; yours is kept in {kept}")
    try:
        removed = runner.reset(connect.resolve(settings), chosen)
    except KafkalabError as exc:
        ui.out.print(f"[dim]topics and groups left as they are: {exc}[/]")
        return
    ui.success(
        f"lesson {chosen.number}: removed {len(removed)} topic(s), group(s) and schema subject(s)"
    )


def init(
    folder: Annotated[
        Path, typer.Argument(help="Where to put the exercises (created if missing).")
    ] = Path("kafkalab-exercises"),
) -> None:
    """Copy every exercise into a folder of your own, for a pip-installed kafkalab (in a clone
    you can edit lessons/NN-slug/exercise.py in place). Files already there are kept; kafkalab
    then grades the files in this folder."""
    settings = load_settings()
    made = workspace.init(settings, folder, manifest.load())
    ui.success(
        f"{made.root}: {len(made.created)} exercise(s) copied"
        + (f", {len(made.kept)} of yours kept" if made.kept else "")
    )
    ui.out.print(
        "Next: [bold]kafkalab lesson next[/] names the file to edit; "
        "[bold]kafkalab watch[/] grades it each time you save."
    )


def watch(
    which: Annotated[
        str,
        typer.Argument(help="Lesson number to start from, or 'next' (the first not done)."),
    ] = "next",
) -> None:
    """Grade the current exercise each time you save its file, and move to the next lesson
    when it passes — like rustlings' watch mode, with a real Kafka cluster under it. Ctrl-C
    stops."""
    from kafkalab.curriculum import watching

    settings = load_settings()
    every = [x for x in manifest.load() if workspace.has_exercise(x)]
    chosen = _choose(which, every, settings) if every else None
    if chosen is not None and not workspace.has_exercise(chosen):
        raise InvalidChoice(f"lesson {chosen.number} has no exercise to watch")
    if chosen is None:
        ui.success("every exercise passed — nothing left to watch")
        return
    with ui.stopped_by_ctrl_c():
        watching.watch(settings, chosen, every, _graded_once)


def _graded_once(settings: Settings, lesson: Lesson) -> bool:
    ui.out.rule(f"[bold]Lesson {lesson.number} — {lesson.title} · exercise[/]")
    introduce(settings, lesson)
    result = grade(settings, lesson, quiet=True, answers=None)
    render_exercise(settings, lesson, result)
    if not result.passed and result.output.strip():
        tail = "\n".join(result.output.strip().splitlines()[-15:])
        ui.out.print("[dim]your program printed:[/]")
        ui.out.print(tail, markup=False, highlight=False)
    return result.passed


dev_app = typer.Typer(help="Tools for people who write lessons.", no_args_is_help=True)


@dev_app.command("check")
def dev_check(
    static: Annotated[
        bool,
        typer.Option(
            "--static", help="Only check the files, without running the exercises on a cluster."
        ),
    ] = False,
) -> None:
    """Check every lesson folder against lessons.toml (text length, a chapter's main part of
    500–700 words before its `## More`, settings mentioned, demo, check, exercise, solution and
    grader present), then run each exercise untouched (it must ✘) and its solution (it must ✔)
    on the real cluster, like rustlings' `dev check`."""
    from kafkalab.curriculum.devcheck import check_all, run_all

    every = manifest.load()
    problems = check_all(every)
    if not problems and not static:
        problems = run_all(load_settings(), every, notify=ui.step)
    if problems:
        ui.table(
            "lesson problems", ["lesson", "problem"], [[p.lesson, p.problem] for p in problems]
        )
        raise InvalidChoice(
            f"{len(problems)} problem(s) in the lessons folder",
            hint="fix each line above, then run `kafkalab dev check` again",
        )
    ran = "" if static else ", every exercise ✘ untouched and ✔ solved"
    ui.success(f"{len(every)} lessons: every folder complete and consistent with lessons.toml{ran}")
