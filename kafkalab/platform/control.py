"""What the CLI asks of the platform: start it, stop it, scale a service, list what runs.

The supervisor process does the work; this module writes what is wanted, starts the
supervisor when needed, and waits for the services' /health to say they are ready.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from kafkalab import clients, localhttp, processes
from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES, group_id
from kafkalab.cluster import connect, lifecycle
from kafkalab.cluster.state import ClusterState
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events.topics import apply_catalogue
from kafkalab.monitoring.scrape import Target, targets
from kafkalab.observe.lag import group_lag
from kafkalab.platform import autoscaler, files, learner
from kafkalab.platform.scaling import MAX_REPLICAS as MAX_REPLICAS
from kafkalab.platform.scaling import Policy
from kafkalab.processes import read_pid
from kafkalab.security.material import ADMIN
from kafkalab.settings import Settings, settings_env

Notify = Callable[[str], None]


class ServicesNotReady(KafkalabError):
    hint = "see `kafkalab ps` and `kafkalab logs SERVICE`"


@dataclass
class ServiceRow:
    service: str
    replica: int
    pid: int | None
    port: int
    state: str
    health: str
    restarts: int
    assigned: int
    lag: int | None
    circuit: str | None = None  # payment's gateway circuit breaker (closed, open, half-open)


@dataclass(frozen=True)
class PlatformUp:
    seconds: float
    conn: Connection
    console: str | None = None  # the web console's URL once it answers, else None


def check_service(name: str) -> str:
    if name not in SERVICES:
        raise InvalidChoice(
            f"unknown service '{name}'", hint=f"choose one of: {', '.join(SERVICES)}"
        )
    return name


def up(
    settings: Settings,
    notify: Notify | None = None,
    timeout: float = 90.0,
    autoscale: Policy | None = None,
    secure: bool = False,
    with_learner: dict[str, Path] | None = None,
) -> PlatformUp:
    """Cluster (if needed) + topics + all six services, each healthy.

    Returns the seconds taken and the connection the caller goes on with, resolved once the
    cluster exists (as admin on a secure cluster: kafkalab's tools act as the super user).
    With `autoscale`, the supervisor's autoscaler is switched on with that policy (it stays
    on until `set_autoscale(settings, None)` or `down`). With `secure`, the cluster must be
    (or is started) secure. `with_learner` adds the learner's own services ({"refund": file},
    lesson 22) as further supervised services; one added before stays until `down`."""
    say = notify or (lambda _m: None)
    started = time.monotonic()
    if not settings.external:
        lifecycle.up(settings, notify=say, secure=secure)
    conn = connect.resolve(settings, ADMIN)
    created = apply_catalogue(clients.admin(conn))
    if created:
        say(f"created {len(created)} topics")
    desired = files.read_desired(settings)
    wanted = {name: max(desired.get(name, 0), 1) for name in SERVICES}
    for name, program in (with_learner or {}).items():
        learner.enable(settings, conn, name, program)
    for name in learner.read(settings):
        wanted[name] = 1
    files.write_json(files.desired_file(settings), wanted)
    if autoscale is not None:
        set_autoscale(settings, autoscale)
    _ensure_supervisor(settings, say)
    say("waiting for the six services to report healthy")
    wait_ready(settings, wanted, timeout, say)
    return PlatformUp(time.monotonic() - started, conn, wait_console(settings))


def stop_learner(settings: Settings, name: str, timeout: float = 30.0) -> None:
    """Stop the learner's `name` service and forget it; the six go on running."""
    learner.disable(settings, name)
    desired = files.read_desired(settings)
    desired[name] = 0
    files.write_json(files.desired_file(settings), desired)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(r.service == name for r in files.read_status(settings).replicas):
            return
        time.sleep(0.3)


def console_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.console_port}"


def wait_console(settings: Settings, timeout: float = 20.0) -> str | None:
    """The supervised console's URL once its /health answers, or None (switched off with
    console_port 0, or not answering — e.g. its port is taken: `kafkalab logs console`).
    The shop runs without it, so `up` does not fail for it."""
    if not settings.console_port:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _health(settings.console_port) == "ok":
            return console_url(settings)
        seen = files.read_console_status(settings)
        if seen is not None and seen.state == "backoff":
            return None  # it started and exited (a taken port): waiting longer changes nothing
        time.sleep(0.3)
    return None


def _ensure_supervisor(settings: Settings, say: Notify) -> None:
    if read_pid(files.pid_file(settings)):
        return
    say("starting the service supervisor")
    processes.spawn(
        [sys.executable, "-m", "kafkalab.platform.supervisor"],
        files.pid_file(settings),
        files.supervisor_log(settings),
        settings_env(settings),
    )


def wait_ready(
    settings: Settings, wanted: dict[str, int], timeout: float, notify: Notify | None = None
) -> None:
    """Block until every wanted replica answers /health with 200.

    A replica paused on purpose (SIGSTOP, `kafkalab chaos pause`) would never answer: it is
    not waited for, and `notify` says so once, with the command that wakes it. Its process is
    there and its group membership is the broker's business — a load or a lesson can run
    with a paused consumer, which is the point of pausing one."""
    say = notify or (lambda _m: None)
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    told: set[str] = set()
    while time.monotonic() < deadline:
        status = files.read_status(settings)
        by_key = {(r.service, r.replica): r for r in status.replicas}
        pending = []
        for name, count in wanted.items():
            for replica in range(count):
                row = by_key.get((name, replica))
                label = f"{name}-{replica}"
                if row is not None and row.pid and processes.is_paused(row.pid):
                    if label not in told:
                        told.add(label)
                        say(
                            f"{label} is paused (SIGSTOP): not waiting for it — "
                            f"`{resume_command(name, replica)}` wakes it"
                        )
                    continue
                if row is None or _health(row.port) != "ok":
                    pending.append(label)
        if not pending:
            return
        time.sleep(0.3)
    raise ServicesNotReady(f"not healthy after {timeout:.0f} s: {', '.join(pending)}")


def scrape_targets(settings: Settings) -> list[Target]:
    """The /metrics endpoints of every replica the supervisor runs, and its own (replica 0 of
    each service when it reports none), and each local broker's JMX exporter agent: what
    `kafkalab alerts` and the dashboard scrape."""
    counts: dict[str, int] = {}
    for replica in files.read_status(settings).replicas:
        counts[replica.service] = max(counts.get(replica.service, 0), replica.replica + 1)
    state = None if settings.external else ClusterState.load(settings)
    return targets(settings, counts or None, state.brokers if state else 0)


def resume_command(service: str, replica: int) -> str:
    """What a user types to wake a paused replica."""
    return f"kafkalab chaos resume {service}" + (f" --replica {replica}" if replica else "")


def paused_replicas(settings: Settings) -> list[str]:
    """Labels (notification-0, …) of the replicas stopped by SIGSTOP right now."""
    return [
        f"{r.service}-{r.replica}"
        for r in files.read_status(settings).replicas
        if r.pid and processes.is_paused(r.pid)
    ]


def _health(port: int) -> str:
    try:
        response = localhttp.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
    except httpx.HTTPError:
        return "down"
    if response.status_code == 200:
        return "ok"
    return "starting" if response.status_code == 503 else f"http {response.status_code}"


def _health_body(port: int) -> dict[str, object]:
    try:
        return dict(localhttp.get(f"http://127.0.0.1:{port}/health", timeout=1.0).json())
    except (httpx.HTTPError, ValueError):
        return {}


def scale(settings: Settings, name: str, replicas: int, timeout: float = 60.0) -> None:
    """Run `replicas` copies of `name` in its one consumer group."""
    check_service(name)
    if not 0 <= replicas <= MAX_REPLICAS:
        raise InvalidChoice(
            f"replicas must be between 0 and {MAX_REPLICAS} (got {replicas})",
            hint="a group shares out its partitions; payment's reads 12, so a 13th member gets none",
        )
    if not read_pid(files.pid_file(settings)):
        raise ServicesNotReady("the services are not running", hint="start them with `kafkalab up`")
    desired = files.read_desired(settings)
    desired[name] = replicas
    files.write_json(files.desired_file(settings), desired)
    wait_ready(settings, {name: replicas}, timeout)


def set_autoscale(settings: Settings, policy: Policy | None) -> None:
    """Ask the supervisor to autoscale by consumer lag with `policy`, or (None) to stop."""
    if policy is None:
        autoscaler.disable(settings)
        return
    if policy.lag_threshold < 0 or policy.sustain_seconds <= 0 or policy.idle_seconds < 0:
        raise InvalidChoice(
            "the autoscaler needs a lag threshold ≥ 0, --for > 0 s and --scale-down-after ≥ 0 s",
            hint="e.g. `kafkalab up --autoscale --lag-threshold 200 --for 10`",
        )
    autoscaler.enable(settings, policy)


def autoscale_status(settings: Settings) -> autoscaler.AutoscalerState | None:
    """The autoscaler's latest view and its steps, or None when it is off."""
    if autoscaler.read_policy(settings) is None:
        return None
    state = autoscaler.read_state(settings)
    state.policy = autoscaler.read_policy(settings)
    return state


def down(settings: Settings, notify: Notify | None = None) -> bool:
    """Stop every service (the supervisor stops its children first). The cluster keeps running.
    The autoscaler is switched off too: `up --autoscale` asks for it again."""
    autoscaler.disable(settings)
    learner.disable(settings)  # the next `up` is the six again, unless it says --with
    pid_path = files.pid_file(settings)
    if not read_pid(pid_path):
        return False
    (notify or (lambda _m: None))("stopping the services")
    return processes.stop(pid_path, timeout=40)


def ps(settings: Settings, conn: Connection | None = None) -> list[ServiceRow]:
    """Each replica the supervisor runs, with its health; with `conn`, its group's lag too."""
    status = files.read_status(settings)
    lags: dict[str, int] = {}
    if conn is not None and status.replicas:
        try:
            names = [*SERVICES, *(r.service for r in status.replicas if r.service not in SERVICES)]
            lags = {g.group: g.total for g in group_lag(conn, [group_id(n) for n in names])}
        except Exception:  # noqa: BLE001 - lag is a nicety; the process table still matters
            lags = {}
    rows = []
    order = (*SERVICES, *LEARNER_SERVICES)
    for r in sorted(status.replicas, key=lambda r: (order.index(r.service), r.replica)):
        paused = bool(r.pid) and processes.is_paused(r.pid or 0)
        body = _health_body(r.port) if r.pid and not paused else {}
        # A learner's service (the capstone's refund) may answer /health with its metrics
        # text rather than kafkalab's JSON: a 200 is still healthy.
        health = "paused" if paused else str(body.get("status") or "")
        if not health:
            health = _health(r.port) if r.pid else "down"
        rows.append(
            ServiceRow(
                r.service,
                r.replica,
                r.pid,
                r.port,
                r.state,
                health,
                r.restarts,
                len(body.get("assigned", []) or []),  # type: ignore[arg-type]
                lags.get(group_id(r.service)),
                str(body["circuit"]) if body.get("circuit") else None,
            )
        )
    return rows
