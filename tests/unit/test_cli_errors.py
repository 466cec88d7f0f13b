"""Bad input at the command line: one sentence with a hint, a non-zero exit, no traceback.

These run the CLI in-process through the real console edge (`execute`, which the console
script wraps in `sys.exit`); test_entry_point.py runs the installed script itself.
"""

import json
import logging
import os
import socket
from pathlib import Path
from unittest import mock

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkalab import ui
from kafkalab.errors import KafkalabError
from tests.helpers import CliRun, free_port, run_cli


def assert_one_line_error(run: CliRun, code: int, text: str) -> None:
    assert run.code == code, run
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("✘ "), lines[0]
    assert text in lines[0]
    assert " — " in lines[0], "a hint follows the dash"
    assert "Traceback" not in run.stderr + run.stdout


def isolated_env(tmp_path: Path) -> dict[str, str]:
    return {
        "KAFKALAB_DATA_DIR": str(tmp_path / "data"),
        "KAFKALAB_BROKER_PORT": str(free_port()),
        "KAFKALAB_CONTROLLER_PORT": str(free_port()),
        "KAFKALAB_REGISTRY_PORT": str(free_port()),
    }


def test_unknown_subcommand() -> None:
    assert_one_line_error(run_cli("clutser"), 2, "No such command 'clutser'")


def test_unknown_option() -> None:
    assert_one_line_error(run_cli("cluster", "up", "--bogus"), 2, "No such option: --bogus")


def test_two_brokers_says_which_values_are_allowed(tmp_path: Path) -> None:
    run = run_cli("cluster", "up", "--brokers", "2", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "--brokers must be 1 or 3 (got 2)")


def test_taken_port_is_refused_politely(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        run = run_cli("cluster", "up", env={**env, "KAFKALAB_BROKER_PORT": str(port)})
    assert_one_line_error(
        run, 1, f"port {port} on 127.0.0.1 (for the broker-1 client) is already in use"
    )


def test_missing_java(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "PATH": str(tmp_path / "empty-bin"), "JAVA_HOME": ""}
    run = run_cli("cluster", "up", env=env)
    assert_one_line_error(run, 1, "Java was not found")


def test_reset_without_yes_and_without_a_terminal_removes_nothing(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    (tmp_path / "data").mkdir()
    run = run_cli("cluster", "reset", env=env)
    assert run.code == 1
    assert "nothing removed" in run.stdout
    assert (tmp_path / "data").exists()


def test_status_json_when_nothing_runs(tmp_path: Path) -> None:
    run = run_cli("cluster", "status", "--json", env=isolated_env(tmp_path))
    assert run.code == 0, run
    status = json.loads(run.stdout)
    assert status["running"] is False
    assert status["brokers"][0]["running"] is False
    assert status["registry"]["running"] is False


def test_down_when_nothing_runs_is_fine(tmp_path: Path) -> None:
    run = run_cli("cluster", "down", env=isolated_env(tmp_path))
    assert run.code == 0
    assert "nothing was running" in run.stdout


def test_help_teaches_the_commands() -> None:
    run = run_cli("--help")
    assert run.code == 0
    for command in ("cluster", "doctor", "smoke"):
        assert command in run.stdout
    run = run_cli("cluster", "up", "--help")
    assert "--brokers" in run.stdout and "min.insync.replicas" in run.stdout


def test_chaos_bad_targets_are_one_sentence(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    assert_one_line_error(run_cli("chaos", "kill", "foo", env=env), 1, "unknown chaos target 'foo'")
    assert_one_line_error(
        run_cli("chaos", "zap", "payment", env=env), 1, "unknown chaos action 'zap'"
    )
    assert_one_line_error(
        run_cli("chaos", "kill", "broker-4", env=env),
        1,
        "broker-4 does not exist: the cluster has 1 broker(s)",
    )
    assert_one_line_error(
        run_cli("chaos", "kill", "payment", env=env), 1, "the services are not running"
    )
    assert_one_line_error(
        run_cli("chaos", "kill", "payment", "--every", "3", "--no-load", env=env),
        1,
        "--every repeats a fault",
    )
    assert_one_line_error(
        run_cli("chaos", "kill", "payment", "--no-load", "--during-load", "5", env=env),
        1,
        "--no-load and --during-load ask for opposite things",
    )


def test_platform_commands_refuse_unknown_services(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    assert_one_line_error(run_cli("scale", "foo", "2", env=env), 1, "unknown service 'foo'")
    assert_one_line_error(run_cli("logs", "foo", env=env), 1, "unknown service 'foo'")
    assert_one_line_error(run_cli("scenario", "nope", env=env), 1, "unknown scenario 'nope'")


def test_dashboard_without_a_cluster_is_one_sentence(tmp_path: Path) -> None:
    run = run_cli("dashboard", "--once", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "no Kafka broker answers at")


def test_orders_on_a_steps_scenario_is_refused(tmp_path: Path) -> None:
    run = run_cli("scenario", "happy-path", "--orders", "5", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "--orders and --rate apply to load-driven scenarios")


def test_fail_burst_only_targets_payment(tmp_path: Path) -> None:
    run = run_cli("chaos", "fail-burst", "order", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "fail-burst targets the payment gateway, not 'order'")


def test_fail_burst_with_nothing_running(tmp_path: Path) -> None:
    run = run_cli("chaos", "fail-burst", "payment", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "no payment replica is running")


def test_an_autoscaler_window_of_zero_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("up", "--autoscale", "--for", "0", env=isolated_env(tmp_path))
    assert_one_line_error(run, 2, "--for")


def test_logs_of_a_supervisor_that_never_ran(tmp_path: Path) -> None:
    run = run_cli("logs", "supervisor", env=isolated_env(tmp_path))
    assert run.code == 1 and "no log yet" in run.stdout + run.stderr


def test_alerts_without_a_running_platform_says_so(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "KAFKALAB_SERVICE_PORT": str(free_port())}
    run = run_cli("alerts", "--interval", "0.5", env=env)
    assert_one_line_error(run, 1, "no kafkalab endpoint answers /metrics on 127.0.0.1:")


def test_alerts_refuses_a_rule_outside_its_promql_subset(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n  - alert: Slow\n"
        "    expr: histogram_quantile(0.99, rate(x_bucket[5m])) > 1\n"
    )
    run = run_cli("alerts", "--rules", str(rules), env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "alert Slow: the function 'histogram_quantile' is not supported")


def test_an_unexpected_error_is_one_line_too(tmp_path: Path) -> None:
    with mock.patch("kafkalab.cli.cluster.load_settings", side_effect=RuntimeError("boom")):
        run = run_cli("cluster", "status", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "unexpected error: RuntimeError: boom")
    assert "--debug" in run.stderr


def test_a_kafka_error_a_lesson_explains_points_at_that_lesson(tmp_path: Path) -> None:
    refused = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with mock.patch("kafkalab.cli.cluster.load_settings", side_effect=refused):
        run = run_cli("cluster", "status", env=isolated_env(tmp_path))
    assert_one_line_error(run, 1, "TOPIC_AUTHORIZATION_FAILED: Broker: Topic authorization failed")
    assert run.stderr.strip().endswith("see `kafkalab lesson 18 --explain`"), run.stderr
    assert "unexpected" not in run.stderr


def test_debug_shows_the_traceback_instead(tmp_path: Path) -> None:
    """`--debug` re-raises at the edge; in a process of its own that prints the traceback."""
    with pytest.raises(KafkalabError, match="--brokers must be 1 or 3"):
        run_cli("--debug", "cluster", "up", "--brokers", "2", env=isolated_env(tmp_path))
    with (
        mock.patch("kafkalab.cli.cluster.load_settings", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError, match="boom"),
    ):
        run_cli("--debug", "cluster", "status", env=isolated_env(tmp_path))


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    with mock.patch("kafkalab.cli.cluster.load_settings", side_effect=KeyboardInterrupt):
        run = run_cli("cluster", "status", env=isolated_env(tmp_path))
    assert run.code == 130, run
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--debug", "clutser"), "No such command 'clutser'"),
        (("cluster", "up", "--bogus", "--debug"), "No such option: --bogus"),
    ],
    ids=["debug-first", "debug-last"],
)
def test_a_usage_error_stays_one_line_with_debug(args: tuple[str, ...], said: str) -> None:
    """--debug anywhere re-raises bugs and KafkalabErrors, not a mistyped command line."""
    assert_one_line_error(run_cli(*args), 2, said)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "--debug"])
def test_ctrl_c_in_a_command_says_what_keeps_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    """Typer would turn the KeyboardInterrupt into a silent 130; the edge says it in one line."""

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("kafkalab.cli.cluster.load_settings", interrupted)
    run = run_cli(*(["--debug"] if debug else []), "cluster", "status", env=isolated_env(tmp_path))
    assert_one_line_error(run, 130, "interrupted")
    assert "see `kafkalab cluster status`" in run.stderr
    assert run.stdout == ""


def test_a_warning_logged_on_the_way_shows_on_stderr(tmp_path: Path) -> None:
    """As in a process that configured no logging, so the one-line checks above would see a
    stray librdkafka warning although the CLI runs in-process here."""

    def warn_then_fail() -> None:
        logging.getLogger("librdkafka").warning("stray warning")
        raise RuntimeError("boom")

    with mock.patch("kafkalab.cli.cluster.load_settings", side_effect=warn_then_fail):
        run = run_cli("cluster", "status", env=isolated_env(tmp_path))
    assert run.code == 1
    assert run.stderr.splitlines()[0] == "stray warning", run.stderr


def test_run_cli_gives_the_command_what_a_new_process_would_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`env` replaces every other KAFKALAB_* variable, `cwd` applies, and nothing leaks out."""
    # the tester's own setting: the command must not see it
    monkeypatch.setenv("KAFKALAB_REGISTRY_PORT", "1")
    root = logging.getLogger()
    before = (dict(os.environ), os.getcwd(), ui.out, ui.err, list(root.handlers))
    port = free_port()
    run = run_cli(
        "cluster", "status", "--json", env={"KAFKALAB_BROKER_PORT": str(port)}, cwd=tmp_path
    )
    assert run.code == 0, run
    status = json.loads(run.stdout)
    assert status["data_dir"] == str(tmp_path.resolve() / ".kafkalab")
    assert status["brokers"][0]["port"] == port
    assert status["registry"]["url"] == "http://127.0.0.1:8081"
    assert (dict(os.environ), os.getcwd(), ui.out, ui.err, list(root.handlers)) == before


def test_ctrl_c_ends_a_live_view_quietly() -> None:
    """`tail --follow`, `dashboard` and `alerts --watch` run until Ctrl-C: that is how they
    end, so exit 130 without the ✘ line the edge prints for an interrupted command."""
    import typer

    from kafkalab import ui

    with pytest.raises(typer.Exit) as stopped, ui.stopped_by_ctrl_c():
        raise KeyboardInterrupt
    assert stopped.value.exit_code == 130
