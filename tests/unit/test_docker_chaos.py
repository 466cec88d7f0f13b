"""Chaos on containers and `--docker` without an engine.

No Docker engine runs here, so target resolution and the fault calls are checked against a
small stand-in for the docker SDK's client (containers found by compose labels) — it stands in
for Docker, not for Kafka. The no-engine path is the real one: the CLI, the real SDK, and a
DOCKER_HOST where nothing listens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kafkalab.chaos import containers, faults
from kafkalab.errors import InvalidChoice
from kafkalab.platform import compose
from tests.helpers import free_port, run_cli
from tests.unit.test_cli_errors import assert_one_line_error


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    pid: int = 100
    health: str | None = "healthy"
    calls: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    def reload(self) -> None:
        state: dict[str, Any] = {"Pid": self.pid, "Running": self.pid > 0}
        if self.health is not None:
            state["Health"] = {"Status": self.health}
        self.attrs = {"State": state}

    def kill(self, signal: str) -> None:
        self.calls.append(f"kill {signal}")
        self.pid = 0

    def start(self) -> None:
        self.calls.append("start")
        self.pid = 200

    def pause(self) -> None:
        self.calls.append("pause")

    def unpause(self) -> None:
        self.calls.append("unpause")

    def restart(self, timeout: int) -> None:
        self.calls.append("restart")
        self.pid = 300


class FakeContainers:
    def __init__(self, items: list[FakeContainer]) -> None:
        self.items = items
        self.filters: list[dict[str, Any]] = []

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[FakeContainer]:
        self.filters.append(filters or {})
        wanted = dict(label.split("=", 1) for label in (filters or {}).get("label", []))
        return [c for c in self.items if all and wanted.items() <= c.labels.items()]


@dataclass
class FakeClient:
    containers: FakeContainers


def container(service: str, number: int = 1, project: str = compose.PROJECT) -> FakeContainer:
    return FakeContainer(
        f"{project}-{service}-{number}",
        {
            containers.PROJECT_LABEL: project,
            containers.SERVICE_LABEL: service,
            containers.NUMBER_LABEL: str(number),
        },
    )


def client(*items: FakeContainer) -> FakeClient:
    return FakeClient(FakeContainers(list(items)))


def test_a_service_resolves_to_its_compose_container() -> None:
    payment = container("payment")
    fake = client(container("order"), payment, container("payment", project="someone-else"))
    target = faults.resolve_container(fake, "payment")
    assert target.kind == "service" and target.label == "payment-0"
    assert target.container is payment


def test_replica_r_is_compose_container_number_r_plus_one() -> None:
    second = container("payment", 2)
    target = faults.resolve_container(client(container("payment", 1), second), "payment", 1)
    assert target.container is second


def test_broker_n_is_the_kafka_n_container_of_the_three_node_stack() -> None:
    nodes = [container(f"kafka-{i}") for i in (1, 2, 3)]
    target = faults.resolve_container(client(*nodes), "broker-2")
    assert target.kind == "broker" and target.node_id == 2
    assert target.container is nodes[1]


def test_a_broker_fault_on_the_one_node_stack_is_refused() -> None:
    with pytest.raises(InvalidChoice, match="1-node docker stack"):
        faults.resolve_container(client(container("kafka-1")), "broker-1")


def test_unknown_target_and_missing_container_say_what_is_wrong() -> None:
    with pytest.raises(InvalidChoice, match="unknown chaos target 'paymnet'"):
        faults.resolve_container(client(container("payment")), "paymnet")
    with pytest.raises(containers.NoSuchContainer, match="no container for payment"):
        faults.resolve_container(client(container("order")), "payment")


@pytest.mark.parametrize(
    ("action", "calls"),
    [
        ("kill", ["kill SIGKILL", "start"]),
        ("pause", ["pause"]),
        ("resume", ["unpause"]),
        ("restart", ["restart"]),
    ],
)
def test_each_action_does_its_docker_operation(
    monkeypatch: pytest.MonkeyPatch, action: str, calls: list[str]
) -> None:
    monkeypatch.setattr(containers, "RESTART_AFTER", 0.0)
    payment = container("payment")
    target = faults.resolve_container(client(payment), "payment")
    detail = faults.inject(None, faults.check_action(action), target)  # type: ignore[arg-type]
    assert payment.calls == calls
    assert payment.name in detail


def test_a_killed_service_comes_back_as_a_new_process_a_killed_broker_stays_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(containers, "RESTART_AFTER", 0.0)
    payment = container("payment")
    target = faults.resolve_container(client(payment), "payment")
    before = faults.service_pid(None, target)  # type: ignore[arg-type]
    faults.inject(None, "kill", target)  # type: ignore[arg-type]
    after = faults.service_pid(None, target)  # type: ignore[arg-type]
    assert after not in (0, before) and containers.healthy(payment)

    nodes = [container(f"kafka-{i}") for i in (1, 2, 3)]
    broker = faults.resolve_container(client(*nodes), "broker-3")
    faults.inject(None, "kill", broker)  # type: ignore[arg-type]
    assert nodes[2].calls == ["kill SIGKILL"] and not containers.healthy(nodes[2])
    with pytest.raises(InvalidChoice, match="not paused"):
        faults.inject(None, "pause", broker)  # type: ignore[arg-type]


def test_unhealthy_until_the_health_check_passes() -> None:
    starting = container("order")
    starting.health = "starting"
    assert not containers.healthy(starting)
    starting.health = "healthy"
    assert containers.healthy(starting)


def no_engine_env(tmp_path: Path) -> dict[str, str]:
    return {"DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}", "KAFKALAB_DATA_DIR": str(tmp_path)}


@pytest.mark.parametrize(
    "args",
    [("up", "--docker"), ("down", "--docker"), ("chaos", "kill", "payment", "--docker")],
    ids=["up", "down", "chaos"],
)
def test_without_an_engine_docker_commands_fail_in_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    run = run_cli(*args, env=no_engine_env(tmp_path))
    assert_one_line_error(run, 1, "no Docker engine answers at tcp://127.0.0.1:")
    assert "start Docker" in run.stderr


def test_bad_docker_input_is_refused_before_looking_for_an_engine(tmp_path: Path) -> None:
    env = no_engine_env(tmp_path)
    assert_one_line_error(
        run_cli("up", "--docker", "--brokers", "2", env=env), 1, "1 or 3 Kafka nodes, not 2"
    )
    assert_one_line_error(
        run_cli("chaos", "kill", "paymnet", "--docker", env=env), 1, "unknown chaos target"
    )
