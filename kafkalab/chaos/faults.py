"""Who can be hurt, and how: a service replica (SIGKILL, SIGSTOP/SIGCONT, SIGTERM) or a broker.

Targets are resolved against what is actually running, so a bad target is refused with one
sentence before anything is touched. With `docker=True` the target is a container of the
docker stack instead, and the fault is done through the docker SDK (chaos/containers.py).
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field
from typing import Any, Literal

from kafkalab import processes
from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.chaos import containers
from kafkalab.cluster import config, connect, health, lifecycle
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.platform import compose, files
from kafkalab.security.material import ADMIN
from kafkalab.settings import Settings

Action = Literal["kill", "pause", "resume", "restart"]
ACTIONS: tuple[Action, ...] = ("kill", "pause", "resume", "restart")
_BROKER = re.compile(r"^broker-(\d+)$")


class NothingRunning(KafkalabError):
    hint = "start the platform with `kafkalab up` (or the cluster with `kafkalab cluster up`)"


@dataclass(frozen=True)
class Target:
    kind: Literal["service", "broker"]
    name: str  # "payment" or "broker-2"
    replica: int = 0
    node_id: int = 0
    container: Any = field(default=None, compare=False)  # a docker SDK Container, with --docker

    @property
    def label(self) -> str:
        return f"{self.name}-{self.replica}" if self.kind == "service" else self.name


def check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise InvalidChoice(
            f"unknown chaos action '{action}'", hint=f"choose one of: {', '.join(ACTIONS)}"
        )
    return action  # type: ignore[return-value]


def resolve(settings: Settings, name: str, replica: int = 0, docker: bool = False) -> Target:
    """The running thing called `name`, or an error saying what exists instead."""
    if docker:
        check_name(name)  # before looking for an engine: a typo gets the better message
        return resolve_container(compose.engine(), name, replica)
    match = _BROKER.match(name)
    if match:
        status = lifecycle.status(settings)
        node = int(match.group(1))
        names = ", ".join(b.name for b in status.brokers)
        if not any(b.node_id == node for b in status.brokers):
            raise InvalidChoice(
                f"{name} does not exist: the cluster has {len(status.brokers)} broker(s) ({names})",
                hint="`kafkalab cluster up --brokers 3` makes a cluster whose brokers can fail over",
            )
        if len(status.brokers) < 3:
            raise InvalidChoice(
                f"killing {name} would stop the whole 1-broker cluster",
                hint="broker faults need a replicated cluster: `kafkalab cluster up --brokers 3`",
            )
        return Target("broker", name, node_id=node)
    if name not in (*SERVICES, *LEARNER_SERVICES):
        raise InvalidChoice(
            f"unknown chaos target '{name}'",
            hint=f"a service ({', '.join(SERVICES)}), refund (`up --with refund`) or broker-N",
        )
    if not files.read_status(settings).supervisor_pid:
        raise NothingRunning("the services are not running")
    return Target("service", name, replica=replica)


def check_name(name: str) -> re.Match[str] | None:
    """A service name (None) or broker-N (its match); anything else is refused."""
    match = _BROKER.match(name)
    if match is None and name not in SERVICES:
        raise InvalidChoice(
            f"unknown chaos target '{name}'",
            hint=f"a service ({', '.join(SERVICES)}) or broker-N",
        )
    return match


def resolve_container(client: Any, name: str, replica: int = 0) -> Target:
    """`name` as a container of the compose project (`client` is a docker SDK client)."""
    match = check_name(name)
    container = containers.find(client, compose.PROJECT, name, replica)
    if match is None:
        return Target("service", name, replica=replica, container=container)
    try:
        containers.find(client, compose.PROJECT, "broker-3")
    except containers.NoSuchContainer:
        raise InvalidChoice(
            f"killing {name} would stop the whole 1-node docker stack",
            hint="broker faults need the three-node stack: `kafkalab up --docker --brokers 3`",
        ) from None
    return Target("broker", name, node_id=int(match.group(1)), container=container)


def service_pid(settings: Settings, target: Target) -> int:
    if target.container is not None:
        return containers.main_pid(target.container)
    for row in files.read_status(settings).replicas:
        if row.service == target.name and row.replica == target.replica and row.pid:
            return row.pid
    if target.name in LEARNER_SERVICES:
        raise NothingRunning(
            f"{target.label} is not running: start it with `kafkalab up --with {target.name}`"
        )
    raise NothingRunning(f"{target.label} is not running right now (see `kafkalab ps`)")


def broker_pid(settings: Settings, target: Target) -> int | None:
    for broker in lifecycle.status(settings).brokers:
        if broker.node_id == target.node_id:
            return broker.pid
    return None


def inject(settings: Settings, action: Action, target: Target, force: bool = False) -> str:
    """Do it; returns a one-line description for the timeline. A broker kill that would lose
    the KRaft quorum or push partitions below min.insync.replicas is refused (`KillRefused`)
    unless `force`."""
    if target.container is not None:
        if target.kind == "broker" and action not in ("kill", "restart"):
            raise InvalidChoice(
                f"brokers can be killed or restarted, not {action}d",
                hint=f"`kafkalab chaos kill {target.name} --docker`",
            )
        return containers.inject(target.container, action, target.kind == "broker")
    if target.kind == "broker":
        return _broker_fault(settings, action, target, force)
    pid = service_pid(settings, target)
    sig = {
        "kill": signal.SIGKILL,
        "pause": signal.SIGSTOP,
        "resume": signal.SIGCONT,
        "restart": signal.SIGTERM,
    }[action]
    os.kill(pid, sig)
    return f"{sig.name} → {target.label} (pid {pid})"


class KillRefused(KafkalabError):
    """A broker kill whose predicted consequence is worse than a leader election."""


def forecast(settings: Settings, target: Target) -> health.KillForecast:
    """What a SIGKILL of `target` (a broker) would do, from the pid files and the metadata."""
    status = lifecycle.status(settings)
    alive = [b.node_id for b in status.brokers if b.running]
    voters = [b.node_id for b in status.brokers]  # every kafkalab node is a controller voter
    _, min_isr = config.replication(len(status.brokers))
    views = health.read_partitions(connect.resolve(settings, ADMIN)).views.values()
    return health.forecast_kill(target.node_id, alive, voters, views, min_isr)


def _broker_fault(settings: Settings, action: Action, target: Target, force: bool) -> str:
    pid = broker_pid(settings, target)
    if action == "kill":
        if pid is None:
            raise InvalidChoice(
                f"{target.name} is already down", hint=f"`kafkalab chaos restart {target.name}`"
            )
        predicted = forecast(settings, target)
        if predicted.refusal and not force:
            dead = [b.name for b in lifecycle.status(settings).brokers if not b.running]
            first = f"`kafkalab chaos restart {dead[0]}` first, or " if dead else ""
            raise KillRefused(
                predicted.refusal,
                hint=f"{first}add --force to do it anyway and watch what it does",
            )
        os.kill(pid, signal.SIGKILL)
        done = f"SIGKILL → {target.name} (pid {pid})"
        return f"{done}; forced, predicted: {predicted.refusal}" if predicted.refusal else done
    if action == "restart":
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            processes.wait_gone([pid], 15)
        # Starts exactly the nodes that are not running, then waits until each is back in
        # every ISR (lifecycle._catch_up).
        result = lifecycle.up(settings)
        how = "restarted" if pid is not None else "started again"
        if result.caught_up_seconds is None:
            return f"{target.name} {how}"
        return f"{target.name} {how}; back in every ISR after {result.caught_up_seconds:.1f} s"
    raise InvalidChoice(
        f"brokers can be killed or restarted, not {action}d",
        hint=f"`kafkalab chaos kill {target.name}`",
    )
