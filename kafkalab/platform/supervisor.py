"""The process supervisor: keeps the wanted number of replicas of each service running.

It runs as its own background process (`python -m kafkalab.platform.supervisor`) so services
outlive the command that started them, and it reconciles like an orchestrator: the CLI writes
the desired replica counts to `desired.json`; the supervisor starts what is missing, stops what
is extra, restarts a crashed replica after a growing back-off, and publishes what it sees in
`status.json` (pids, ports, restarts) for `kafkalab ps`, `scale` and `chaos`. A thread of it
is the lag-based autoscaler (autoscaler.py), idle unless `kafkalab up --autoscale` asked for it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkalab import processes
from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES, service_port
from kafkalab.cluster import connect
from kafkalab.connection import Connection
from kafkalab.monitoring import exporter
from kafkalab.observe.groups import platform_groups
from kafkalab.platform import autoscaler, learner, routing
from kafkalab.platform.files import (
    ReplicaStatus,
    console_status_file,
    log_file,
    platform_dir,
    read_desired,
    status_file,
    write_json,
)
from kafkalab.settings import Settings, load_settings, settings_env

log = logging.getLogger("kafkalab.supervisor")

CONSOLE = "console"
"""The web console (`python -m kafkalab.console`): supervised like a replica, but no service —
it reads Kafka and the services, so it is in no group, no status.json row and no scrape."""
RESTART_BACKOFF = (1.0, 2.0, 4.0, 8.0)
STABLE_AFTER = 30.0  # a replica up this long has its back-off reset


@dataclass
class _Replica:
    status: ReplicaStatus
    proc: subprocess.Popen[bytes] | None = None
    next_start: float = 0.0
    failures: int = 0


class Supervisor:
    def __init__(self, settings: Settings, conn: Connection) -> None:
        self.settings = settings
        self.conn = conn  # its own: the platform endpoint and the autoscaler read lag with it
        self.replicas: dict[tuple[str, int], _Replica] = {}
        self.console: _Replica | None = None
        if settings.console_port:
            self.console = _Replica(
                ReplicaStatus(
                    CONSOLE,
                    0,
                    settings.console_port,
                    log=str(log_file(settings, CONSOLE, 0)),
                )
            )
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        log.info("supervisor started (pid %s)", os.getpid())
        metrics = exporter.serve(self.settings, self.conn, self._replica_states, self._lag_groups)
        autoscaling_done = threading.Event()
        autoscaler.start(self.settings, self.conn, autoscaling_done)
        try:
            while not self.stopping:
                self.reconcile(read_desired(self.settings))
                self.publish()
                time.sleep(0.3)
            autoscaling_done.set()
            self.stop_all()
            self.publish()
        finally:
            autoscaling_done.set()
            if metrics is not None:
                metrics.shutdown()
        return 0

    def _replica_states(self) -> list[tuple[str, str]]:
        """(service, state) per replica, for the platform's /metrics (read from its thread)."""
        return [(i.status.service, i.status.state) for i in list(self.replicas.values())]

    def _lag_groups(self) -> list[str]:
        """The groups the platform's /metrics reports lag for: the six services' and, while
        `up --with refund` runs the learner's refund service, its group too (so the shipped
        KafkalabConsumerLag covers it)."""
        return platform_groups() + learner.groups(self.settings)

    def reconcile(self, desired: dict[str, int]) -> None:
        now = time.monotonic()
        for (name, replica), item in list(self.replicas.items()):
            if replica >= desired.get(name, 0):
                self._stop(item)
                del self.replicas[(name, replica)]
        for name in (*SERVICES, *LEARNER_SERVICES):
            for replica in range(desired.get(name, 0)):
                if (name, replica) not in self.replicas:
                    port = service_port(self.settings, name, replica)
                    self.replicas[(name, replica)] = _Replica(
                        ReplicaStatus(
                            name, replica, port, log=str(log_file(self.settings, name, replica))
                        )
                    )
                self._watch(self.replicas[(name, replica)], now)
        if self.console is not None:
            self._watch(self.console, now)

    def _watch(self, item: _Replica, now: float) -> None:
        status = item.status
        if item.proc is not None:
            code = item.proc.poll()
            if code is None:
                if status.started_at and time.time() - status.started_at > STABLE_AFTER:
                    item.failures = 0
                return
            # It died on its own: an orchestrator restarts it after a back-off.
            status.last_exit = code
            status.pid = None
            status.state = "backoff"
            item.proc = None
            delay = RESTART_BACKOFF[min(item.failures, len(RESTART_BACKOFF) - 1)]
            item.failures += 1
            item.next_start = now + delay
            log.warning(
                "%s-%s exited with %s; restarting in %.0f s",
                status.service,
                status.replica,
                code,
                delay,
            )
            return
        if now >= item.next_start:
            self._start(item)

    def _start(self, item: _Replica) -> None:
        status = item.status
        if status.started_at is not None:
            status.restarts += 1
        # In secure mode each service connects as its own SCRAM user, bound by its ACLs.
        own = {"replica": status.replica, "principal": status.service, "listen_port": status.port}
        # A service a network fault hurts reaches Kafka through toxiproxy (platform/routing.py).
        own["via_proxy"] = status.service in routing.proxied(self.settings)
        module = f"kafkalab.services.{status.service}"
        command = [sys.executable, "-m", module]
        if status.service == CONSOLE:  # kafkalab's own tool: it connects as admin, like the CLI
            own = {"listen_port": status.port}
            command = [sys.executable, "-m", "kafkalab.console"]
        elif status.service in LEARNER_SERVICES:  # the learner's file, through the launcher
            found = learner.command(self.settings, status.service, status.replica)
            if found is None:
                status.state = "stopped"
                return
            command = found
        env = settings_env(self.settings.model_copy(update=own))
        pid_path = platform_dir(self.settings) / f"{status.service}-{status.replica}.pid"
        item.proc = processes.spawn(
            command,
            pid_path,
            Path(status.log),
            env,
        )
        status.pid = item.proc.pid
        status.state = "running"
        status.started_at = time.time()

    def _stop(self, item: _Replica) -> None:
        if item.proc is not None and item.proc.poll() is None:
            item.proc.terminate()
            try:
                item.proc.wait(15)
            except subprocess.TimeoutExpired:
                item.proc.kill()
                item.proc.wait(5)
        item.proc = None
        item.status.pid = None
        item.status.state = "stopped"

    def stop_all(self) -> None:
        children = [*self.replicas.values(), *([self.console] if self.console else [])]
        running = [i for i in children if i.proc is not None]
        for item in running:
            if item.proc is not None and item.proc.poll() is None:
                item.proc.terminate()
        for item in running:
            self._stop(item)

    def publish(self) -> None:
        write_json(status_file(self.settings), [asdict(i.status) for i in self.replicas.values()])
        if self.console is not None:
            write_json(console_status_file(self.settings), asdict(self.console.status))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings()
    sys.exit(Supervisor(settings, connect.resolve(settings)).run())


if __name__ == "__main__":
    main()
