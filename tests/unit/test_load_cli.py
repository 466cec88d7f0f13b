"""`kafkalab load` refuses bad input in one sentence before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CliRun, free_port, run_cli


def one_line_error(run: CliRun, text: str) -> None:
    assert run.code != 0, run
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("✘ ") and text in lines[0], lines[0]
    assert " — " in lines[0], "a hint follows the dash"
    assert "Traceback" not in run.stderr + run.stdout


def nothing_running(tmp_path: Path) -> dict[str, str]:
    """An empty data dir and free ports: if the command got as far as starting the platform,
    it would try (and this test would be slow and fail), so these prove it stops first."""
    return {
        "KAFKALAB_DATA_DIR": str(tmp_path / "data"),
        "KAFKALAB_BROKER_PORT": str(free_port()),
        "KAFKALAB_CONTROLLER_PORT": str(free_port()),
        "KAFKALAB_REGISTRY_PORT": str(free_port()),
        "KAFKALAB_JAVA": "/nonexistent/java",
    }


@pytest.mark.parametrize(
    "args,text",
    [
        (["--orders", "0"], "--orders must be between 1"),
        (["--rate", "-5"], "--rate must be a positive number"),
        (["--fail-rate", "2"], "--fail-rate must be between 0 and 1"),
        (["--orders", "10", "--users", "20"], "--users must be between 1 and the number of orders"),
        (["--concurrency", "1000"], "--concurrency must be between 1 and 256"),
    ],
)
def test_bad_plans_are_one_sentence(tmp_path: Path, args: list[str], text: str) -> None:
    one_line_error(run_cli("load", *args, env=nothing_running(tmp_path)), text)


def test_an_unwritable_report_path_is_refused_before_the_run(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "report.json"
    run = run_cli("load", "--json", str(missing), env=nothing_running(tmp_path))
    one_line_error(run, "cannot write the report to")


def test_a_non_number_is_a_usage_error() -> None:
    run = run_cli("load", "--orders", "lots")
    assert run.code == 2
    one_line_error(run, "Invalid value for '--orders'")
