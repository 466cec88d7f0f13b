"""`kafkalab --help`: commands in panels, learning first, and help paragraphs that re-wrap to
the terminal instead of breaking where the docstring's source line ended."""

from __future__ import annotations

from typing import Any

import typer.main

from kafkalab.cli.helptext import flow
from kafkalab.cli.main import PANELS, app
from tests.helpers import run_cli


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_the_root_help_lists_its_panels_in_order_learning_first() -> None:
    run = run_cli("--help")
    assert run.code == 0, run
    positions = [run.stdout.find(f"─ {panel} ─") for panel in PANELS]
    assert PANELS[0] == "Learn"
    assert all(p >= 0 for p in positions), run.stdout
    assert positions == sorted(positions), run.stdout
    assert "─ Commands ─" not in run.stdout, "every command names its panel"


def test_each_command_sits_in_its_panel() -> None:
    stdout = run_cli("--help").stdout
    learn = stdout[stdout.find("─ Learn ─") : stdout.find("─ Run the shop ─")]
    cluster = stdout[stdout.find("─ Cluster ─") :]
    assert " lesson " in learn and " lessons " in learn
    assert " cluster " in cluster and " doctor " in cluster and " dev " in cluster


def test_a_multi_line_paragraph_renders_as_one_flowing_paragraph_when_wide() -> None:
    # chaos's second paragraph breaks after "(the group" in its docstring.
    run = run_cli("chaos", "--help", env={"COLUMNS": "200"})
    assert run.code == 0, run
    assert _lines_with(run.stdout, "(the group evicts a paused member"), run.stdout
    # In the commands table too: scenario's first paragraph breaks after "event trace,".
    root = run_cli("--help", env={"COLUMNS": "200"}).stdout
    assert _lines_with(root, "the causal event trace, the consumer lag"), root


def test_a_narrow_terminal_wraps_the_same_paragraph_at_its_width() -> None:
    run = run_cli("chaos", "--help", env={"COLUMNS": "80"})
    assert all(len(line) <= 80 for line in run.stdout.splitlines())
    assert _lines_with(run.stdout, "kill = SIGKILL")


def test_no_help_paragraph_in_the_command_tree_keeps_a_source_line_break() -> None:
    def walk(command: Any, path: str) -> list[str]:
        broken = [
            f"{path}: {paragraph[:40]!r}"
            for paragraph in (command.help or "").split("\n\n")
            if "\n" in paragraph and not paragraph.startswith("\b")
        ]
        for name, sub in getattr(command, "commands", {}).items():
            broken += walk(sub, f"{path} {name}")
        return broken

    assert walk(typer.main.get_command(app), "kafkalab") == []


def test_flow_joins_lines_and_keeps_paragraphs_lists_and_verbatim_blocks() -> None:
    text = """First line
    goes on.

    Second
    paragraph:
    - one item
      that wraps
    - another

    \b
    kept
    as is
    \f
    not for help
    """
    assert flow(text) == (
        "First line goes on.\n\n"
        "Second paragraph:\n- one item that wraps\n- another\n\n"
        "\b\nkept\nas is\n\f\nnot for help"
    )
