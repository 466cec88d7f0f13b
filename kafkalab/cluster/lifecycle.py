"""Start, stop, inspect and wipe the local KRaft cluster and its schema registry.

`up` is idempotent: it starts only what is not running, formats only unformatted nodes, and
returns once every broker answers metadata requests and the registry answers HTTP. `down`
stops everything cleanly (SIGTERM → controlled shutdown, SIGKILL only after a timeout) and
keeps the data; `reset` also deletes the data dir.
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kafkalab import clients, localhttp, processes
from kafkalab.cluster import config, connect, health, provision
from kafkalab.cluster.java import find_java
from kafkalab.cluster.ports import port_free
from kafkalab.cluster.state import ClusterState
from kafkalab.connection import Connection
from kafkalab.errors import (
    ClusterMismatch,
    ClusterStartFailed,
    InvalidChoice,
    PortInUse,
    RegistryError,
)
from kafkalab.processes import read_pid
from kafkalab.security import material
from kafkalab.security import provision as security_provision
from kafkalab.security.material import ADMIN
from kafkalab.settings import ALLOWED_BROKER_COUNTS, Settings, settings_env

Notify = Callable[[str], None]


@dataclass
class NodeStatus:
    name: str
    node_id: int
    port: int
    controller_port: int
    pid: int | None
    running: bool
    log: str
    state: str = "dead"
    """running, dead (no process) or fenced (a process the controller does not count as a
    live broker: starting, or cut off); see `cluster.health.broker_state`."""


@dataclass
class RegistryStatus:
    url: str
    pid: int | None
    running: bool
    managed: bool
    subjects: int | None = None


@dataclass
class ClusterStatus:
    running: bool
    kafka_version: str
    cluster_id: str | None
    data_dir: str
    bootstrap: str
    secure: bool = False
    """kafkalab's own secure mode (per-service SCRAM users, ACLs)."""
    protocol: str = "PLAINTEXT"
    brokers: list[NodeStatus] = field(default_factory=list)
    controller_id: int | None = None
    topics: list[str] = field(default_factory=list)
    registry: RegistryStatus | None = None
    under_replicated: int | None = None
    """Partitions whose ISR is smaller than their replica set (None: metadata unreadable)."""
    offline: int | None = None
    """Partitions with no leader at all."""


@dataclass
class UpResult:
    status: ClusterStatus
    already_running: bool
    started: list[str]
    seconds: float
    caught_up_seconds: float | None = None
    """For brokers restarted into a running cluster: how long until they were back in every
    ISR (None when no such broker was started)."""


def registry_login(settings: Settings) -> tuple[str, str] | None:
    """(user, password) for the registry's basic auth, when KAFKALAB_REGISTRY_AUTH asks for it."""
    login = settings.registry_login()
    if login is None:
        return None
    user, _, password = login.partition(":")
    return user, password


def _registry_home(settings: Settings) -> Path:
    return settings.data_dir / "registry"


def _registry_managed(settings: Settings) -> bool:
    return settings.registry_url is None


def new_cluster_id() -> str:
    """A Kafka cluster id (22 base64url chars), made here to save a JVM start."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):  # would read as a flag to the storage tool
            return candidate


def _resolve_size(settings: Settings, brokers: int | None) -> tuple[int, ClusterState | None]:
    state = ClusterState.load(settings)
    size = brokers if brokers is not None else (state.brokers if state else 1)
    if size not in ALLOWED_BROKER_COUNTS:
        allowed = " or ".join(str(n) for n in ALLOWED_BROKER_COUNTS)
        raise InvalidChoice(
            f"--brokers must be {allowed} (got {size})",
            hint="1 is a single combined broker+controller; 3 is a replicated cluster (RF 3, min ISR 2)",
        )
    if state and state.brokers != size:
        if any(read_pid(node.pid_file) for node in config.node_specs(settings, state.brokers)):
            raise ClusterMismatch(
                f"a {state.brokers}-broker cluster is running in {settings.data_dir}; "
                f"stop it before starting {size}"
            )
        raise ClusterMismatch(
            f"{settings.data_dir} holds a {state.brokers}-broker cluster, not {size}",
            hint=f"`kafkalab cluster reset --yes` wipes it (topics included), then "
            f"`kafkalab cluster up --brokers {size}`; or set KAFKALAB_DATA_DIR to another folder",
        )
    return size, state


def up(
    settings: Settings,
    brokers: int | None = None,
    notify: Notify | None = None,
    progress: provision.Progress | None = None,
    secure: bool = False,
) -> UpResult:
    """Bring the cluster (and registry) up; a no-op when everything already runs.

    `secure` formats a new cluster for secure mode (see `config._secure_listeners`); a data dir
    formatted that way stays secure on every later `up`, with or without the flag."""
    say = notify or (lambda _msg: None)
    if settings.external:
        where = settings.client_properties or settings.bootstrap
        raise InvalidChoice(
            f"kafkalab is pointed at a cluster it did not start ({where}), so it starts no "
            "broker of its own",
            hint="unset KAFKALAB_CLIENT_PROPERTIES / KAFKALAB_BOOTSTRAP to use the local cluster",
        )
    started_at = time.monotonic()
    size, state = _resolve_size(settings, brokers)
    if state is not None and secure and not state.secure:
        raise ClusterMismatch(
            f"{settings.data_dir} holds a cluster formatted without security",
            hint="`kafkalab cluster reset --yes` wipes it, then `kafkalab cluster up --secure`; "
            "or set KAFKALAB_DATA_DIR to another folder",
        )
    secure = secure or bool(state and state.secure)
    nodes = config.node_specs(settings, size)
    to_start = [node for node in nodes if read_pid(node.pid_file) is None]
    registry_pid = read_pid(_registry_home(settings) / "registry.pid")
    registry_needed = _registry_managed(settings) and registry_pid is None
    if not to_start and not registry_needed:
        wait_for_brokers(connect.resolve(settings, ADMIN), size, {}, settings.start_timeout)
        return UpResult(status(settings), True, [], time.monotonic() - started_at)

    _check_ports(settings, to_start, registry_needed, secure)
    java = find_java(settings)
    classpath = provision.ensure_jars(settings, progress)
    listener = _secure_listener(settings) if secure else None
    if state is None:
        state = ClusterState(new_cluster_id(), size, provision.KAFKA_VERSION, secure)
        state.save(settings)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    if to_start:
        for node in to_start:
            _write_node_config(settings, node, nodes, listener)
        scram = (
            [f"SCRAM-SHA-512=[name={listener.admin_user},password={listener.admin_password}]"]
            if listener
            else None
        )
        unformatted = [n for n in to_start if not _formatted(n)]
        _format_storage(java.path, classpath, unformatted, state, scram)
        for node in to_start:
            port = node.secure_port if secure else node.port
            say(f"starting {node.name} on {settings.host}:{port}{' (SASL_SSL)' if secure else ''}")
            cmd = config.jvm_command(java.path, classpath, settings, node)
            procs[node.name] = processes.spawn(cmd, node.pid_file, node.logs / "stdout.log")
    say(f"waiting for {size} broker(s) to answer metadata requests")
    conn = connect.resolve(settings, ADMIN)  # the cluster now exists: its size, mode, password
    wait_for_brokers(conn, size, {n.name: n for n in to_start}, settings.start_timeout, procs)
    started = [node.name for node in to_start]
    caught_up = None
    if to_start and len(to_start) < len(nodes):
        # A member that died came back into a running cluster: it is only whole again once it
        # has fetched what it missed and re-joined every ISR.
        caught_up = _catch_up(conn, to_start, settings.start_timeout, say)
    if secure:
        say("creating the services' SCRAM users and ACLs")
        security_provision.apply(conn, material.read_passwords(material.SecurityFiles.of(settings)))
    if registry_needed:
        say(f"starting the schema registry on {settings.schema_registry_url()}")
        _start_registry(settings, size)
        started.append("registry")
    return UpResult(status(settings), False, started, time.monotonic() - started_at, caught_up)


def _catch_up(conn: Connection, nodes: list[config.NodeSpec], timeout: float, say: Notify) -> float:
    """Wait until each restarted node is back in every ISR; seconds it took (the slowest)."""
    started = time.monotonic()
    for node in nodes:
        say(f"waiting for {node.name} to catch up and re-join every ISR")
        seconds, missing = health.wait_in_sync(conn, node.node_id, timeout)
        if seconds is None:
            shown = ", ".join(missing[:4]) + (
                f" (+{len(missing) - 4} more)" if len(missing) > 4 else ""
            )
            raise ClusterStartFailed(
                f"{node.name} is running but not back in the ISR of {len(missing)} partition(s) "
                f"after {timeout:.0f} s: {shown}"
            )
    return round(time.monotonic() - started, 2)


def _secure_listener(settings: Settings) -> config.SecureListener:
    files = material.ensure_material(settings)
    return config.SecureListener(
        keystore_pem=files.broker_keystore,
        truststore_pem=files.ca_cert,
        admin_user=material.ADMIN,
        admin_password=material.password(settings, material.ADMIN),
    )


def _check_ports(
    settings: Settings, nodes: list[config.NodeSpec], registry: bool, secure: bool = False
) -> None:
    wanted = [(f"{n.name} client", n.secure_port if secure else n.port) for n in nodes]
    if secure:  # the mTLS listener takes the plain client port
        wanted += [(f"{n.name} mTLS client", n.port) for n in nodes]
    else:  # the PROXIED listener (toxiproxy's upstream) takes the unused secure port
        wanted += [(f"{n.name} proxied listener", n.secure_port) for n in nodes]
    wanted += [(f"{n.name} controller", n.controller_port) for n in nodes]
    wanted += [(f"{n.name} metrics", n.metrics_port) for n in nodes if n.metrics_port]
    if registry:
        wanted.append(("schema registry", settings.registry_port))
    for what, port in wanted:
        if not port_free(settings.host, port):
            raise PortInUse(
                f"port {port} on {settings.host} (for the {what}) is already in use by another program"
            )


def _write_node_config(
    settings: Settings,
    node: config.NodeSpec,
    nodes: list[config.NodeSpec],
    secure: config.SecureListener | None = None,
) -> None:
    node.home.mkdir(parents=True, exist_ok=True)
    node.logs.mkdir(parents=True, exist_ok=True)
    # 0600: in secure mode the file holds the admin password (the brokers' own JAAS login).
    material.write_secret(
        node.properties_file, config.render_properties(settings, node, nodes, secure).encode()
    )
    node.log4j_file.write_text(config.render_log4j(node))
    node.jmx_exporter_file.write_text(config.render_jmx_exporter())


def _formatted(node: config.NodeSpec) -> bool:
    return (node.log_dir / "meta.properties").exists()


def _format_storage(
    java: str,
    classpath: Path,
    nodes: list[config.NodeSpec],
    state: ClusterState,
    scram: list[str] | None = None,
) -> None:
    """Format every new node's log dir with Kafka's storage tool, nodes in parallel."""
    runs = [
        (
            node,
            subprocess.Popen(
                config.storage_format_command(java, classpath, node, state.cluster_id, scram),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for node in nodes
    ]
    for node, proc in runs:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            last = [line for line in out.splitlines() if line.strip()][-1:] or ["no output"]
            raise ClusterStartFailed(f"formatting {node.name} storage failed: {last[0]}"[:400])


def wait_for_brokers(
    conn: Connection,
    size: int,
    watched: dict[str, config.NodeSpec],
    timeout: float,
    procs: dict[str, subprocess.Popen[bytes]] | None = None,
) -> None:
    """Block until `size` brokers answer metadata; fail fast if a starting JVM exits."""
    admin = clients.admin(conn, **{"log_level": 0, "socket.connection.setup.timeout.ms": 1000})
    deadline = time.monotonic() + timeout
    while True:
        for name, proc in (procs or {}).items():
            if proc.poll() is not None:
                node = watched[name]
                raise ClusterStartFailed(
                    f"{name} exited during start-up (code {proc.returncode}): "
                    f"{_last_error(node.logs / 'server.log', node.logs / 'stdout.log')}"
                )
        try:
            metadata = admin.list_topics(timeout=1.0)
            if len(metadata.brokers) >= size:
                return
        except Exception:  # noqa: BLE001 - not answering yet is the expected case here
            pass
        if time.monotonic() >= deadline:
            logs = ", ".join(str(n.logs / "server.log") for n in watched.values())
            raise ClusterStartFailed(
                f"the cluster did not answer within {timeout:.0f} s (see {logs or 'the broker logs'})"
            )
        time.sleep(0.2)


def _last_error(*logs: Path) -> str:
    for log in logs:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            continue
        errors = [line for line in lines if " ERROR " in line or "Exception" in line]
        if errors:
            return errors[-1].strip()[:300]
    return f"see {logs[0]}"


def _start_registry(settings: Settings, size: int) -> None:
    home = _registry_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    rf, _ = config.replication(size)
    cmd = [
        sys.executable,
        "-m",
        "kafkalab.cluster.registry",
        "--host",
        settings.host,
        "--port",
        str(settings.registry_port),
        "--replication-factor",
        str(rf),
    ]
    # The registry reads the cluster state (secure or not) and its credentials from the same
    # data dir, so it gets this process's settings, not whatever the environment holds.
    env = settings_env(settings.model_copy(update={"principal": ADMIN}))
    proc = processes.spawn(cmd, home / "registry.pid", home / "registry.log", env)
    deadline = time.monotonic() + settings.start_timeout
    url = f"{settings.schema_registry_url()}/subjects"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RegistryError(
                f"the schema registry exited during start-up: {_last_error(home / 'registry.log')}"
            )
        try:
            if localhttp.get(url, timeout=1.0, auth=registry_login(settings)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RegistryError(
        f"the schema registry did not answer on {url} within {settings.start_timeout:.0f} s"
    )


def down(settings: Settings, notify: Notify | None = None) -> list[str]:
    """Stop the registry and every broker; returns what was stopped (empty: nothing ran)."""
    say = notify or (lambda _msg: None)
    stopped: list[str] = []
    if processes.stop(_registry_home(settings) / "registry.pid", timeout=10):
        stopped.append("registry")
    state = ClusterState.load(settings)
    nodes = config.node_specs(settings, state.brokers if state else 3)
    running = {node.name: pid for node in nodes if (pid := read_pid(node.pid_file))}
    if running:
        say(f"stopping {', '.join(running)} (controlled shutdown)")
        held = _held_ports(settings, [n for n in nodes if n.name in running])
        # All at once, as kafka-server-stop does: nodes then shut down together.
        processes.signal_pids(list(running.values()), signal.SIGTERM)
        if not processes.wait_gone(list(running.values()), timeout=45):
            processes.signal_pids(list(running.values()), signal.SIGKILL)
            processes.wait_gone(list(running.values()), timeout=5)
        for node in nodes:
            node.pid_file.unlink(missing_ok=True)
        stopped += list(running)
        _wait_ports_released(settings, held)
    return stopped


def _held_ports(settings: Settings, nodes: list[config.NodeSpec]) -> list[int]:
    """The ports the running nodes hold (listeners, controller, JMX agent)."""
    ports = [p for n in nodes for p in (n.port, n.secure_port, n.controller_port, n.metrics_port)]
    return [p for p in ports if p and not port_free(settings.host, p)]


def _wait_ports_released(settings: Settings, ports: list[int], timeout: float = 15.0) -> None:
    """Wait (bounded) until the stopped nodes' ports are free again, so an `up` right after
    `down` does not refuse a port its own broker still held: seen once in CI on a very busy
    machine, the broker-1 metrics port still taken when `up` checked it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(port_free(settings.host, p) for p in ports):
        time.sleep(0.2)


def reset(settings: Settings, jars: bool = False) -> list[str]:
    """Stop everything and delete the data dir (and, with `jars`, the cached Kafka jars)."""
    down(settings)
    removed: list[str] = []
    if settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
        removed.append(str(settings.data_dir))
    if jars and provision.kafka_home(settings).exists():
        shutil.rmtree(provision.kafka_home(settings))
        removed.append(str(provision.kafka_home(settings)))
    return removed


def status(settings: Settings) -> ClusterStatus:
    """Everything `cluster status` shows, read from pid files, the broker and the registry."""
    state = ClusterState.load(settings)
    size = state.brokers if state else 1
    conn = connect.resolve(settings, ADMIN)
    result = ClusterStatus(
        running=False,
        kafka_version=provision.KAFKA_VERSION,
        cluster_id=state.cluster_id if state else None,
        data_dir=str(settings.data_dir),
        bootstrap=conn.bootstrap_servers,
        secure=conn.secure_mode,
        protocol=conn.security_protocol,
    )
    for node in config.node_specs(settings, size):
        pid = read_pid(node.pid_file)
        result.brokers.append(
            NodeStatus(
                node.name,
                node.node_id,
                node.secure_port if result.secure else node.port,
                node.controller_port,
                pid,
                pid is not None,
                str(node.logs / "server.log"),
                "running" if pid is not None else "dead",  # refined from the metadata below
            )
        )
    if settings.external or any(b.running for b in result.brokers):
        _read_cluster(conn, result)
    result.registry = _registry_status(settings)
    return result


def _read_cluster(conn: Connection, result: ClusterStatus) -> None:
    admin = clients.admin(conn, **{"log_level": 0})
    try:
        metadata = admin.list_topics(timeout=5.0)
        cluster = admin.describe_cluster(request_timeout=5.0).result(timeout=5.0)
    except Exception:  # noqa: BLE001 - a cluster that does not answer is simply not running
        return
    result.running = True
    result.controller_id = cluster.controller.id if cluster.controller else None
    result.topics = sorted(metadata.topics)
    partitions = health.partitions_of(metadata)
    if partitions.readable:
        result.under_replicated = partitions.under_replicated
        result.offline = partitions.offline
    for broker in result.brokers:
        broker.state = health.broker_state(broker.node_id, broker.running, metadata.brokers)


def _registry_status(settings: Settings) -> RegistryStatus:
    managed = _registry_managed(settings)
    pid = read_pid(_registry_home(settings) / "registry.pid") if managed else None
    registry = RegistryStatus(settings.schema_registry_url(), pid, False, managed)
    if managed and pid is None:
        return registry
    try:
        response = httpx.get(f"{registry.url}/subjects", timeout=2.0, auth=registry_login(settings))
        registry.running = response.status_code == 200
        registry.subjects = len(response.json()) if registry.running else None
    except (httpx.HTTPError, ValueError):
        pass
    return registry
