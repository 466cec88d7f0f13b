"""The network faults' refusals (one sentence and a hint, before anything is touched) and the
toxics each fault is made of. Running them is tested on the real broker and toxiproxy in
tests/integration/test_network_chaos.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkalab.chaos import network
from kafkalab.errors import InvalidChoice
from kafkalab.platform import routing
from kafkalab.settings import load_settings
from tests.helpers import run_cli
from tests.unit.test_cli_errors import assert_one_line_error, isolated_env


def test_a_missing_toxiproxy_is_one_sentence_with_the_way_to_get_it(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "KAFKALAB_TOXIPROXY": str(tmp_path / "nope")}
    run = run_cli("chaos", "latency", "order", "--ms", "200", env=env)
    assert_one_line_error(run, 1, "network chaos needs toxiproxy, which is not installed")
    assert "scripts/bootstrap" in run.stderr


def test_bad_network_faults_are_refused_in_one_sentence(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    assert_one_line_error(
        run_cli("chaos", "latency", "broker-1", "--ms", "5", env=env),
        1,
        "network faults hurt a service, not 'broker-1'",
    )
    assert_one_line_error(
        run_cli("chaos", "latency", "order", env=env), 1, "latency needs --ms above 0"
    )
    assert_one_line_error(
        run_cli("chaos", "bandwidth", "order", env=env), 1, "bandwidth needs --kbps above 0"
    )
    assert_one_line_error(
        run_cli("chaos", "partition", "order", "--docker", env=env),
        1,
        "partition runs once, on the local platform",
    )


def test_each_fault_is_its_toxics() -> None:
    latency = network.toxics(network.Fault("latency", ms=200, jitter=50))
    assert [(t.type, t.stream, t.attributes) for t in latency] == [
        ("latency", "downstream", {"latency": 200, "jitter": 50})
    ]
    cut = network.toxics(network.Fault("partition"))
    # A black hole both ways: timeout 0 drops the bytes and never closes the connection.
    assert {(t.type, t.stream, t.attributes["timeout"]) for t in cut} == {
        ("timeout", "upstream", 0),
        ("timeout", "downstream", 0),
    }
    slow = network.toxics(network.Fault("bandwidth", kbps=16))
    assert {(t.stream, t.attributes["rate"]) for t in slow} == {
        ("upstream", 16),
        ("downstream", 16),
    }
    assert network.toxics(network.Fault("reset-peer"))[0].type == "reset_peer"
    with pytest.raises(InvalidChoice):
        network.check_kind("jam")


def test_routing_lists_the_proxied_services_and_the_bootstrap_follows(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_port=9092)
    assert routing.proxied(settings) == set()
    routing.set_proxied(settings, "order", True)
    routing.set_proxied(settings, "payment", True)
    routing.set_proxied(settings, "order", False)
    assert routing.proxied(settings) == {"payment"}
    proxied = settings.model_copy(update={"via_proxy": True})
    assert proxied.bootstrap_servers(3) == "127.0.0.1:9159,127.0.0.1:9160,127.0.0.1:9161"
    assert settings.bootstrap_servers(3) == "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"


def test_the_probe_never_says_idempotence_held_when_records_were_doubled() -> None:
    from kafkalab.chaos.probe import ProbeFigures

    doubled = ProbeFigures(read_back=428, duplicates=42, failed={"_MSG_TIMED_OUT": 83})
    line = doubled.lines()[-1]
    assert "42 record(s) are on the topic more than once" in line
    assert "83 delivery(ies) timed out" in line
    assert "nothing to deduplicate" not in line and "wrote nothing twice" not in line
    clean = ProbeFigures(read_back=10, retries=2).lines()[-1]
    assert "2 retried request(s) wrote nothing twice" in clean
    assert "nothing to deduplicate" in ProbeFigures(read_back=10).lines()[-1]
