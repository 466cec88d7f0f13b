"""The observe commands' bad input and missing cluster: one sentence, a hint, exit 1 — no
broker needed (nothing listens on the ports given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CliRun, free_port, run_cli


def assert_one_line_error(run: CliRun, text: str, hint: str) -> None:
    assert run.code == 1, run
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("✘ ") and text in lines[0], lines[0]
    assert hint in lines[0].split(" — ", 1)[1], lines[0]
    assert "Traceback" not in run.stdout + run.stderr


def nowhere(tmp_path: Path) -> dict[str, str]:
    return {
        "KAFKALAB_DATA_DIR": str(tmp_path / "data"),
        "KAFKALAB_BROKER_PORT": str(free_port()),
        "KAFKALAB_REGISTRY_PORT": str(free_port()),
    }


@pytest.mark.parametrize("since", ["10x", "last week", "2026-02-30"])
def test_bad_since_says_what_it_accepts(tmp_path: Path, since: str) -> None:
    run = run_cli("verify", "--since", since, env=nowhere(tmp_path))
    assert_one_line_error(run, f"--since '{since}' is neither a duration nor an ISO time", "10m")


@pytest.mark.parametrize(
    "args", [("verify",), ("trace", "abc"), ("tail", "order-events"), ("lag",)]
)
def test_no_cluster_is_one_sentence(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = nowhere(tmp_path)
    run = run_cli(*args, env=env)
    assert_one_line_error(
        run, f"no Kafka broker answers at 127.0.0.1:{env['KAFKALAB_BROKER_PORT']}", "kafkalab up"
    )


def test_tail_limit_must_be_positive(tmp_path: Path) -> None:
    run = run_cli("tail", "order-events", "-n", "0", env=nowhere(tmp_path))
    assert run.code == 2 and "Traceback" not in run.stderr
    assert (
        "Invalid value for '--limit'" in run.stderr and "greater than or equal to 1" in run.stderr
    )
