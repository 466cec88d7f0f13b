"""The `kafkalab` command: the Typer app, its sub-apps, and the one place errors become text."""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kafkalab import __version__, ui
from kafkalab.cli import alerts as alerts_cli
from kafkalab.cli import chaos as chaos_cli
from kafkalab.cli import cluster as cluster_cli
from kafkalab.cli import console as console_cli
from kafkalab.cli import dashboard as dashboard_cli
from kafkalab.cli import doctor as doctor_cli
from kafkalab.cli import kafka as kafka_cli
from kafkalab.cli import lesson as lesson_cli
from kafkalab.cli import load as load_cli
from kafkalab.cli import monitoring as monitoring_cli
from kafkalab.cli import observe as observe_cli
from kafkalab.cli import platform as platform_cli
from kafkalab.cli import scenario as scenario_cli
from kafkalab.cli import smoke as smoke_cli
from kafkalab.cli import soak as soak_cli
from kafkalab.cli.helptext import flow_tree
from kafkalab.errors import KafkalabError
from kafkalab.explained import describe, lesson_for, see_lesson

# The panels of `kafkalab --help`, in the order they are shown: learning first.
LEARN = "Learn"
RUN = "Run the shop"
OBSERVE = "Observe"
BREAK = "Break it"
CLUSTER = "Cluster"
PANELS = (LEARN, RUN, OBSERVE, BREAK, CLUSTER)


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CTRL_C = 130


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried to `execute` as itself: Typer would otherwise turn the
    KeyboardInterrupt into a silent exit 130 (older Typers: an Abort), and the one line that
    says what keeps running would never be printed."""


class _Commands(TyperGroup):
    """kafkalab's command group: Typer's own, except that Ctrl-C gets past it, every help text
    re-wraps to the terminal, and the commands are listed panel by panel in PANELS order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Typer builds the whole command tree before this group: the one place to flow it all.
        flow_tree(self)

    def list_commands(self, ctx: Any) -> list[str]:
        """Typer shows panels in the order their first command is listed, and it lists every
        command before any sub-app; sorting here (stable, so registration order holds within a
        panel) keeps PANELS' order whatever is registered where."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: _panel_rank(self.commands[name]))

    def invoke(self, ctx: Any) -> Any:  # ctx: a Context from the click copy Typer keeps private
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted from exc


app = typer.Typer(
    cls=_Commands,
    name="kafkalab",
    help="Learn Apache Kafka by running it: a real KRaft broker, real events, live lessons.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Every command names its panel (PANELS); within a panel they are listed in this order.
app.command("lessons", rich_help_panel=LEARN)(lesson_cli.lessons)
app.command("lesson", rich_help_panel=LEARN)(lesson_cli.lesson)
app.command("watch", rich_help_panel=LEARN)(lesson_cli.watch)
app.command("init", rich_help_panel=LEARN)(lesson_cli.init)

app.command("up", rich_help_panel=RUN)(platform_cli.up)
app.command("down", rich_help_panel=RUN)(platform_cli.down)
app.command("ps", rich_help_panel=RUN)(platform_cli.ps)
app.command("logs", rich_help_panel=RUN)(platform_cli.logs)
app.command("scale", rich_help_panel=RUN)(platform_cli.scale)
app.command("scenario", rich_help_panel=RUN)(scenario_cli.scenario)
app.command("load", rich_help_panel=RUN)(load_cli.load)
app.command("smoke", rich_help_panel=RUN)(smoke_cli.smoke)

app.command("tail", rich_help_panel=OBSERVE)(observe_cli.tail)
app.command("trace", rich_help_panel=OBSERVE)(observe_cli.trace)
app.command("lag", rich_help_panel=OBSERVE)(observe_cli.lag)
app.command("verify", rich_help_panel=OBSERVE)(observe_cli.verify)
app.command("dashboard", rich_help_panel=OBSERVE)(dashboard_cli.dashboard)
app.command("alerts", rich_help_panel=OBSERVE)(alerts_cli.alerts)
app.add_typer(monitoring_cli.app, name="monitoring", rich_help_panel=OBSERVE)
app.command("console", rich_help_panel=OBSERVE)(console_cli.console)

app.command("chaos", rich_help_panel=BREAK)(chaos_cli.chaos)
app.command("soak", rich_help_panel=BREAK)(soak_cli.soak)

app.add_typer(cluster_cli.app, name="cluster", rich_help_panel=CLUSTER)
app.command("doctor", rich_help_panel=CLUSTER)(doctor_cli.doctor)
app.command("kafka", context_settings=kafka_cli.CONTEXT, rich_help_panel=CLUSTER)(kafka_cli.kafka)
app.add_typer(lesson_cli.dev_app, name="dev", rich_help_panel=CLUSTER)


def _panel_rank(command: Any) -> int:
    """Where `command`'s panel comes in PANELS; one without a panel lands in Typer's own
    "Commands" panel, which Typer prints first."""
    panel = getattr(command, "rich_help_panel", None)
    return PANELS.index(panel) if panel in PANELS else -1


def _version(value: bool) -> None:
    if value:
        ui.out.print(f"kafkalab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Learn Apache Kafka by running it: a real KRaft broker, real events, live lessons.

    Start with `kafkalab doctor`, then `kafkalab cluster up`.
    """
    # --debug is declared here so the parser accepts it and --help lists it; execute() reads it
    # from the raw arguments, so it also holds when parsing itself fails.


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and exits with its status."""
    sys.exit(execute(sys.argv[1:] if argv is None else argv))


def execute(args: list[str]) -> int:
    """Run the app on `args` and turn every failure into one line on stderr; the exit status.

    The console edge without the exit: `run()` wraps it in `sys.exit`, tests call it in-process.
    With --debug a failure is re-raised (a traceback) instead of summed up in one line; a
    bad command line and Ctrl-C stay one line even then, as there is no bug to trace.
    """
    debug = "--debug" in args
    try:
        code = app(args=args, prog_name="kafkalab", standalone_mode=False)
    except KafkalabError as exc:
        if debug:
            raise
        ui.error(exc.message, exc.hint)
        code = ExitStatus.ERROR
    except typer.Exit as exc:
        code = exc.exit_code
    except (_Interrupted, typer.Abort, KeyboardInterrupt):
        ui.error(
            "interrupted", "what was already started keeps running; see `kafkalab cluster status`"
        )
        code = ExitStatus.CTRL_C
    except Exception as exc:  # noqa: BLE001 - the edge: nothing escapes as a traceback
        if _is_usage_error(exc):
            ui.error(exc.format_message().rstrip("."), _usage_hint(exc))  # type: ignore[attr-defined]
            code = ExitStatus.USAGE
        elif debug:
            raise
        elif (lesson := lesson_for(exc)) is not None:
            # A Kafka error a lesson explains is the learner's to understand, not a bug of ours.
            ui.error(describe(exc), see_lesson(lesson))
            code = ExitStatus.ERROR
        else:
            ui.error(
                f"unexpected error: {type(exc).__name__}: {exc}",
                "run again with --debug for the traceback, and please report it",
            )
            code = ExitStatus.ERROR
    return int(code or 0)


def _is_usage_error(exc: Exception) -> bool:
    """A bad command line, raised by the click layer inside Typer (kept private by Typer)."""
    return hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == ExitStatus.USAGE


def _usage_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "kafkalab"
    return f"run `{command} --help` to see what it accepts"
