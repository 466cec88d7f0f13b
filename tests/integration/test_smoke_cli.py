"""The README's first command, as a user runs it: `kafkalab smoke` against the session cluster."""

from __future__ import annotations

import json

import pytest

from kafkalab.settings import Settings
from tests.helpers import run_cli, run_entry_point

pytestmark = pytest.mark.integration


def env_for(settings: Settings) -> dict[str, str]:
    if settings.bootstrap:
        env = {"KAFKALAB_BOOTSTRAP": settings.bootstrap}
        return {**env, "KAFKALAB_REGISTRY_URL": settings.schema_registry_url()}
    return {
        "KAFKALAB_DATA_DIR": str(settings.data_dir),
        "KAFKALAB_CACHE_DIR": str(settings.cache_dir),  # doctor checks the jars the cluster runs
        "KAFKALAB_BROKER_PORT": str(settings.broker_port),
        "KAFKALAB_CONTROLLER_PORT": str(settings.controller_port),
        "KAFKALAB_REGISTRY_PORT": str(settings.registry_port),
        "KAFKALAB_SECURE_PORT": str(settings.secure_port),
    }


def test_smoke_round_trip_passes_through_the_real_cluster(cluster: Settings) -> None:
    """Through the installed `kafkalab` script in a process of its own: the one integration
    test that proves a real command works from the entry point (the others run in-process)."""
    run = run_entry_point("smoke", "--events", "500", "--json", env=env_for(cluster))
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["passed"] is True
    checks = {c["name"]: c for c in result["checks"]}
    assert set(checks) == {
        "delivered",
        "schema registered",
        "all consumed",
        "decoded intact",
        "order per key",
        "offsets committed",
    }
    assert all(c["ok"] for c in checks.values())
    assert checks["all consumed"]["detail"] == "500/500 read back"
    assert result["schema_id"] >= 1


def test_cluster_status_json_and_up_again_through_the_cli(cluster: Settings) -> None:
    if cluster.bootstrap:
        pytest.skip("the suite runs against an external cluster")
    run = run_cli("cluster", "up", "--json", env=env_for(cluster))
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["already_running"] is True
    status = json.loads(run_cli("cluster", "status", "--json", env=env_for(cluster)).stdout)
    assert status["running"] is True
    assert status["brokers"][0]["port"] == cluster.broker_port
    assert status["registry"]["running"] is True


def test_doctor_is_green_while_the_cluster_runs(cluster: Settings) -> None:
    if cluster.bootstrap:
        pytest.skip("the suite runs against an external cluster")
    run = run_cli("doctor", "--json", env=env_for(cluster))
    assert run.code == 0, run.stdout
    report = json.loads(run.stdout)
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes["cluster"] == "ok" and outcomes["schema registry"] == "ok"
    assert outcomes["java"] == "ok" and outcomes["kafka jars"] == "ok"
