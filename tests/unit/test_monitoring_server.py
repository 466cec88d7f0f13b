"""`kafkalab monitoring` and `kafkalab alerts` without a platform: the one-line refusals, the
fallback to the in-process evaluator, and Prometheus' /api/v1/rules answer read into the same
Alert values (a recorded answer of Prometheus 2.42; the live one is tested in
tests/integration/test_monitoring.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kafkalab import localhttp
from kafkalab.monitoring import prometheus_api
from kafkalab.platform import monitoring
from kafkalab.settings import load_settings
from tests.helpers import free_port, run_cli
from tests.unit.test_cli_errors import assert_one_line_error, isolated_env

RULES_ANSWER: dict[str, Any] = {
    "status": "success",
    "data": {
        "groups": [
            {
                "name": "kafkalab",
                "rules": [
                    {
                        "state": "firing",
                        "name": "KafkalabConsumerLag",
                        "duration": 15,
                        "labels": {"severity": "warning"},
                        "alerts": [
                            {
                                "labels": {
                                    "alertname": "KafkalabConsumerLag",
                                    "group": "kafkalab-notification",
                                    "severity": "warning",
                                },
                                "annotations": {"summary": "consumer group x is 70 records behind"},
                                "state": "firing",
                                "activeAt": "2026-12-07T05:00:00.123456789Z",
                                "value": "7e+01",
                            }
                        ],
                    },
                    {
                        "state": "inactive",
                        "name": "KafkalabServiceDown",
                        "duration": 15,
                        "labels": {"severity": "critical"},
                        "alerts": [],
                    },
                ],
            }
        ]
    },
}


def test_prometheus_rules_become_the_evaluators_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(url: str, **_kw: Any) -> httpx.Response:
        return httpx.Response(200, json=RULES_ANSWER, request=httpx.Request("GET", url))

    monkeypatch.setattr(localhttp, "get", answer)
    at = 1796619600.123456 + 20  # 2026-12-07T05:00:00.123456Z, 20 s later
    lag, down = prometheus_api.alerts("http://127.0.0.1:1", now=at)
    assert (lag.rule, lag.state, lag.labels, lag.value) == (
        "KafkalabConsumerLag",
        "firing",
        {"group": "kafkalab-notification"},
        70.0,
    )
    assert lag.severity == "warning" and lag.for_seconds == 15
    assert lag.active_for == pytest.approx(20, abs=0.01)
    assert lag.summary == "consumer group x is 70 records behind"
    assert (down.rule, down.state, down.value, down.labels) == (
        "KafkalabServiceDown",
        "inactive",
        None,
        {},
    )


def test_monitoring_up_without_the_binary_is_one_line(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "KAFKALAB_PROMETHEUS": str(tmp_path / "no-prometheus")}
    assert_one_line_error(
        run_cli("monitoring", "up", env=env), 1, "the Prometheus server (" + str(tmp_path)
    )


def test_monitoring_up_refuses_a_port_someone_else_holds(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            **isolated_env(tmp_path),
            "KAFKALAB_PROMETHEUS": "/bin/true",
            "KAFKALAB_PROMETHEUS_PORT": str(port),
        }
        assert_one_line_error(run_cli("monitoring", "up", env=env), 1, f"127.0.0.1:{port} is taken")


def test_status_and_down_when_nothing_runs(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "KAFKALAB_PROMETHEUS_PORT": str(free_port())}
    assert "Prometheus is not running" in run_cli("monitoring", "status", env=env).stdout
    assert "Prometheus was not running" in run_cli("monitoring", "down", env=env).stdout


def test_alerts_fall_back_to_the_evaluator_and_say_why(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, prometheus_port=free_port())
    source = monitoring.alert_source(settings)
    assert source.prometheus is None and source.live is not None
    assert source.name.startswith("kafkalab's in-process evaluator")
    assert "`kafkalab monitoring up`" in source.name
