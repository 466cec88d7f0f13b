"""The installed entry points themselves, each run in a process of its own.

Every other CLI test runs the command in-process (`tests.helpers.run_cli`, through the same
`execute` the console script wraps in `sys.exit`): a process costs about 1.5 s of start-up and
imports. These few prove what only a new process can: that the `kafkalab` script installed
beside this interpreter and `python -m kafkalab` start, and that their exit status and stderr
are what a user sees — one line, no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkalab import __version__
from tests.helpers import run_entry_point
from tests.unit.test_cli_errors import assert_one_line_error, isolated_env


@pytest.mark.parametrize("module", [False, True], ids=["kafkalab", "python -m kafkalab"])
def test_version(module: bool) -> None:
    run = run_entry_point("--version", module=module)
    assert run.code == 0, run
    assert run.stdout == f"kafkalab {__version__}\n"
    assert run.stderr == ""


def test_a_usage_error_exits_2_in_one_line() -> None:
    assert_one_line_error(run_entry_point("clutser"), 2, "No such command 'clutser'")


def test_a_kafkalab_error_exits_1_in_one_line_with_a_hint(tmp_path: Path) -> None:
    run = run_entry_point("cluster", "up", "--brokers", "2", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "--brokers must be 1 or 3 (got 2)")
