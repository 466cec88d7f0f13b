"""All terminal rendering. Commands build result dataclasses; this module turns them into Rich
output (or JSON). Services never import it: they log, the CLI renders.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kafkalab.verdict import Check

if TYPE_CHECKING:  # the Kafka and HTTP clients behind these stay unloaded until a command runs
    from kafkalab.monitoring.dashboard import DashboardSnapshot
    from kafkalab.monitoring.rules import Alert
    from kafkalab.observe.trace import TraceLine

C = TypeVar("C", bound=Check)


def console(stderr: bool = False) -> Console:
    """A console like `out` (stdout) or `err` (stderr). Its width, colours and whether it is a
    terminal are settled from the environment and stream of the moment it is made, so a test
    that runs the CLI in-process makes fresh ones for each run, as a new process would."""
    return Console(stderr=stderr, highlight=False)


out = console()
err = console(stderr=True)


def error(message: str, hint: str = "") -> None:
    """The one-line failure every command ends with: `✘ what went wrong — how to fix it`."""
    line = f"[bold red]✘[/] {_escape(message)}"
    if hint:
        line += f" [dim]—[/] {_escape(hint)}"
    err.print(line, soft_wrap=True)


def success(message: str) -> None:
    out.print(f"[bold green]✔[/] {_escape(message)}", soft_wrap=True)


def failure(message: str) -> None:
    out.print(f"[bold red]✘[/] {_escape(message)}", soft_wrap=True)


def step(message: str) -> None:
    """A progress line for long work (starting a JVM, formatting storage)."""
    err.print(f"[cyan]…[/] {_escape(message)}", soft_wrap=True)


def narrate(message: str) -> None:
    """A lesson's spoken step, on stdout with the demo's output: `▸ what happens next and why`."""
    out.print(f"[bold cyan]▸[/] {_escape(message)}", soft_wrap=True)


def markdown(text: str) -> None:
    """A lesson text (or any Markdown) rendered for the terminal."""
    from rich.markdown import Markdown

    out.print(Markdown(text))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_json(value: object) -> None:
    """Dataclasses (nested) as JSON on stdout, for scripts."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, default=str) + "\n")


def to_jsonable(value: object) -> Any:
    """Plain JSON data from a result object; a part with its own `to_jsonable()` (a load
    report adds its computed `lost`, for one) is asked for it, however deep it sits."""
    own = getattr(value, "to_jsonable", None)
    if callable(own) and not isinstance(value, type):
        return own()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    return value


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(str(cell) if cell is not None else "—" for cell in row))
    out.print(grid)


def mark(ok: bool | None) -> str:
    """✔ / ✘ / ! as Rich markup."""
    if ok is None:
        return "[yellow]![/]"
    return "[green]✔[/]" if ok else "[red]✘[/]"


def kv(title: str, pairs: Sequence[tuple[str, object]]) -> None:
    out.print(_kv_grid(title, pairs))


def _kv_grid(title: str, pairs: Sequence[tuple[str, object]]) -> Table:
    grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, "—" if value is None or value == "" else str(value))
    return grid


@contextmanager
def live_kv(
    title: str, every: float = 5.0
) -> Iterator[Callable[[Sequence[tuple[str, object]]], None]]:
    """A key-value panel redrawn in place on stderr while long work runs: `update(pairs)`.

    On a terminal it is a Rich Live display; elsewhere (CI logs, a pipe) it prints one plain
    line at most every `every` seconds instead, so a log still shows progress without a flood.
    """
    import time

    from rich.live import Live

    if not err.is_terminal:
        last = [0.0]

        def line(pairs: Sequence[tuple[str, object]]) -> None:
            now = time.monotonic()
            if now - last[0] >= every:
                last[0] = now
                step(f"{title}: " + ", ".join(f"{k} {v}" for k, v in pairs))

        yield line
        return
    with Live(_kv_grid(title, []), console=err, refresh_per_second=4, transient=True) as display:
        yield lambda pairs: display.update(_kv_grid(title, pairs))


@contextmanager
def download_progress(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar fed by `callback(done, total, name)`; shown only once work starts."""
    bar = Progress(
        TextColumn("[cyan]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[name]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task: list[TaskID] = []

    def update(done: int, total: int, name: str) -> None:
        if not task:
            bar.start()
            err.print(f"[cyan]…[/] {label}")
            task.append(bar.add_task(label, total=total, name=name))
        bar.update(task[0], completed=done, name=name)

    try:
        yield update
    finally:
        if task:
            bar.stop()


SERVICE_COLOURS = {
    "user": "bright_blue",
    "order": "bright_magenta",
    "inventory": "yellow",
    "payment": "bright_green",
    "notification": "cyan",
    "analytics": "bright_red",
}


def trace(lines: Sequence[TraceLine], title: str = "event trace (causal order)") -> None:
    """One line per event: +ms, service in its colour, topic[partition]@offset, type, fields.

    Plain lines rather than a table: a trace is read top to bottom like a log, and a narrow
    terminal should wrap a long line, not squeeze every column.
    """
    out.print(f"[bold]{title}[/]")
    width = max((len(f"{x.topic}[{x.partition}]@{x.offset}") for x in lines), default=0)
    kind = max((len(x.event_type) for x in lines), default=0)
    for line in lines:
        colour = SERVICE_COLOURS.get(line.service, "white")
        where = f"{line.topic}[{line.partition}]@{line.offset}".ljust(width)
        out.print(
            f"[dim]+{line.at_ms:>6} ms[/] [{colour}]{(line.service or '?'):<12}[/] {where} "
            f"[bold]{line.event_type:<{kind}}[/] {_escape(line.summary)}",
            soft_wrap=True,
        )


def verdict(
    checks: Sequence[C],
    title: str = "verdict",
    *,
    headings: tuple[str, str] = ("expectation", "what the topics say"),
    detail: Callable[[C], str] | None = None,
) -> None:
    """Any pass/fail list (lesson checks, scenario expectations, doctor, invariants) as one
    table: ✔ held, ✘ failed, ! could not be judged; the name; what was seen — `detail(check)`
    when given, else the check's own detail; and a fix column when any check has a fix."""
    said = detail or (lambda check: check.detail)
    fixes = any(check.fix for check in checks)
    table(
        title,
        ["", *headings, *(["fix"] if fixes else [])],
        [[mark(c.ok), c.name, said(c), *([c.fix] if fixes else [])] for c in checks],
    )


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int]) -> str:
    """Lag history as ▁▂▃…█, scaled to its own maximum."""
    if not values:
        return ""
    top = max(values) or 1
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))] for v in values)


def dashboard_view(snap: DashboardSnapshot) -> Group:
    """The dashboard as one Rich renderable: shop figures, services, lag, alerts."""

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    kpis = _kv_grid(
        "shop (analytics windows)",
        [
            ("orders this minute", num(snap.orders_per_min, ".0f")),
            (
                "revenue this minute",
                num(
                    None
                    if snap.revenue_per_min_cents is None
                    else snap.revenue_per_min_cents / 100,
                    ",.2f",
                ),
            ),
            (
                "payment success",
                num(
                    None if snap.payment_success_rate is None else snap.payment_success_rate * 100,
                    ".0f",
                )
                + " %",
            ),
            ("orders since start", num(snap.orders_total, ".0f")),
            ("inventory turnover this minute", num(snap.inventory_turnover, ".3f")),
            (
                "conversion",
                num(None if snap.conversion_rate is None else snap.conversion_rate * 100, ".0f")
                + " %",
            ),
            (
                "delivered / requested",
                "  ".join(f"{c} {rate * 100:.0f} %" for c, rate in snap.delivery_rate.items())
                or "—",
            ),
        ],
    )
    services = Table(title="services", title_justify="left", header_style="bold")
    for column in ("service", "up", "consumed/s", "produced/s", "dead letters"):
        services.add_column(column)
    for s in snap.services:
        services.add_row(
            s.service,
            mark(s.up),
            f"{s.consumed_per_s:.1f}",
            f"{s.produced_per_s:.1f}",
            str(s.dead_letters),
        )
    lag = Table(title="consumer lag", title_justify="left", header_style="bold")
    for column in ("group", "lag", "history"):
        lag.add_column(column)
    for group, total in snap.lag.items():
        lag.add_row(group, str(total), sparkline(snap.lag_history.get(group, [])))
    alerts = Table(title="alerts", title_justify="left", show_header=False)
    alerts.add_column()
    for alert in snap.alerts:
        style = _ALERT_STYLE.get(alert.state, "")
        alerts.add_row(f"[{style}]● {alert.state} {alert.rule}: {_escape(alert.summary)}[/]")
    if not snap.alerts:
        alerts.add_row("[green]none[/]")
    return Group(kpis, services, lag, alerts)


_ALERT_STYLE = {"firing": "bold red", "pending": "yellow", "inactive": "dim green"}


def alerts_view(alerts: Sequence[Alert]) -> Table:
    """Alerts as a table: firing, then pending, then quiet.
    The labels that tell alerts apart are in each summary; `--json` has them all."""
    from kafkalab.monitoring.rules import format_value

    grid = Table(
        title="alerts (kafkalab/monitoring/alerts.yml)", title_justify="left", header_style="bold"
    )
    grid.add_column("state", no_wrap=True)
    grid.add_column("alert", no_wrap=True)
    grid.add_column("value", justify="right", no_wrap=True)
    grid.add_column("held/for", no_wrap=True)
    grid.add_column("summary")
    for a in alerts:
        style = _ALERT_STYLE.get(a.state, "")
        active = a.state != "inactive"
        grid.add_row(
            f"[{style}]{a.state}[/]",
            a.rule.removeprefix("Kafkalab"),
            format_value(a.value) if active else "",
            f"{a.active_for:.0f}/{a.for_seconds:.0f} s" if active else f"–/{a.for_seconds:.0f} s",
            _escape(a.summary),
        )
    return grid


def to_text(renderable: RenderableType, width: int = 200) -> str:
    """A renderable as plain text (tests, logs): no colour, no terminal needed."""
    import io

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(renderable)
    return buffer.getvalue()


def live_view(render: Callable[[], RenderableType], every: float) -> None:
    """Redraw `render()` every `every` seconds until Ctrl-C, the way out of a live view: it
    ends quietly with exit 130 (no ✘ line, nothing went wrong)."""
    import time

    from rich.live import Live

    with stopped_by_ctrl_c(), Live(render(), console=out, refresh_per_second=4) as display:
        while True:
            time.sleep(every)
            display.update(render())


@contextmanager
def stopped_by_ctrl_c() -> Iterator[None]:
    """For commands that run until the user stops them (live views, `tail --follow`): Ctrl-C
    is how they end, so it exits 130 as a shell expects but without the CLI edge's
    "✘ interrupted" line."""
    import typer

    try:
        yield
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def ask(prompt: str) -> str:
    """One line typed by the user (a prediction), on the terminal."""
    from rich.prompt import Prompt

    return Prompt.ask(prompt, console=out)


def diff(text: str) -> None:
    """A unified diff, coloured."""
    from rich.syntax import Syntax

    out.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
