"""`kafkalab doctor`: what is installed, what is missing, and how to fix each thing.

Every check returns a Check; none raises. Only a ✘ makes doctor exit non-zero: a cluster that
is simply not started yet is a warning (ok=None, `outcome` "warn") with the command that
starts it.
"""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from kafkalab.chaos import toxiproxy
from kafkalab.cluster import config, lifecycle, provision
from kafkalab.cluster.java import MIN_JAVA, find_java
from kafkalab.cluster.ports import port_free
from kafkalab.cluster.state import ClusterState
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings
from kafkalab.verdict import Check, passed

# A warning: not a failure, and its fix says what to do.
WARN = None


@dataclass
class DoctorReport:
    checks: list[Check]
    settings: dict[str, str]

    @property
    def healthy(self) -> bool:
        """No ✘ (a warning is fine)."""
        return passed(self.checks)

    def to_jsonable(self) -> dict[str, Any]:
        """`--json`: each check with its `outcome` (ok, warn, fail) beside `ok`, and its `fix`
        even when empty — the shape doctor has always printed."""
        return {
            "healthy": self.healthy,
            "checks": [
                {"name": c.name, "ok": c.ok, "outcome": c.outcome, "detail": c.detail, "fix": c.fix}
                for c in self.checks
            ],
            "settings": self.settings,
        }


def diagnose(settings: Settings) -> DoctorReport:
    status = lifecycle.status(settings)
    checks = [
        _python(),
        _java(settings),
        _jars(settings),
        _maven(settings),
        _prometheus(settings),
        _toxiproxy(settings),
        *_ports(settings, status),
        _cluster(status),
        _registry(status),
    ]
    shown = {
        f"KAFKALAB_{name.upper()}": str(getattr(settings, name))
        for name in type(settings).model_fields
    }
    return DoctorReport(checks, shown)


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check(
        "python",
        ok,
        f"Python {platform.python_version()} at {sys.executable}",
        "" if ok else "use Python 3.11 or newer",
    )


def _java(settings: Settings) -> Check:
    try:
        java = find_java(settings)
    except KafkalabError as exc:
        return Check("java", False, exc.message, exc.hint)
    return Check("java", True, f"Java {java.version} at {java.path} (≥ {MIN_JAVA} needed)")


def _jars(settings: Settings) -> Check:
    home = provision.kafka_home(settings)
    if not provision.libs_dir(settings).exists():
        return Check(
            "kafka jars",
            WARN,
            f"Kafka {provision.KAFKA_VERSION} not cached yet in {home}",
            "fetched automatically by `kafkalab cluster up` (needs Maven once)",
        )
    problems = provision.recheck_cache(settings)
    if problems:
        listed = ", ".join(f"{p.name} ({p.problem})" for p in problems[:3])
        return Check(
            "kafka jars",
            False,
            f"{len(problems)} cached jar(s) differ from the pinned checksums: {listed}",
            "run `kafkalab cluster reset --jars --yes`, then `kafkalab cluster up`",
        )
    count = len(provision.pinned_checksums())
    return Check(
        "kafka jars", True, f"Kafka {provision.KAFKA_VERSION}: {count} jars verified in {home}"
    )


def _maven(settings: Settings) -> Check:
    mvn = shutil.which(settings.mvn)
    if mvn:
        return Check("maven", True, f"{mvn} (fetches the Kafka jars from Maven Central)")
    if provision.jars_ready(settings):
        return Check("maven", True, "not installed, not needed: the jars are already cached")
    return Check(
        "maven",
        False,
        "Maven is not installed and the jars are not cached",
        "install Maven, e.g. `apt-get install maven`",
    )


def _prometheus(settings: Settings) -> Check:
    """Only `kafkalab up --monitoring` needs it: missing is a warning, not a failure."""
    found = shutil.which(settings.prometheus)
    if found:
        return Check("prometheus", True, f"{found} (`kafkalab up --monitoring` runs it)")
    return Check(
        "prometheus",
        WARN,
        f"{settings.prometheus} not found: `kafkalab up --monitoring` cannot start Prometheus",
        "install it, e.g. `apt-get install prometheus` (scripts/bootstrap does as root), or set "
        "KAFKALAB_PROMETHEUS",
    )


def _toxiproxy(settings: Settings) -> Check:
    """Only the network faults (`kafkalab chaos latency …`) need it: missing is a warning."""
    found = toxiproxy.find_binary(settings)
    if found:
        return Check("toxiproxy", True, f"{found} (`kafkalab chaos latency|partition …` runs it)")
    return Check(
        "toxiproxy",
        WARN,
        "not installed: the network faults (`kafkalab chaos latency|bandwidth|reset-peer|"
        "partition`) cannot run",
        toxiproxy.INSTALL_HINT,
    )


def _ports(settings: Settings, status: lifecycle.ClusterStatus) -> list[Check]:
    state = ClusterState.load(settings)
    nodes = config.node_specs(settings, state.brokers if state else 1)
    running = {b.name for b in status.brokers if b.running}
    ours = {b.port for b in status.brokers if b.running} | {
        b.controller_port for b in status.brokers if b.running
    }
    ours |= {n.port for n in nodes if n.name in running}  # in secure mode, the mTLS listener
    if status.registry and status.registry.pid:
        ours.add(settings.registry_port)
    wanted = [(n.port, f"{n.name} client") for n in nodes]
    wanted += [(n.controller_port, f"{n.name} controller") for n in nodes]
    if settings.registry_url is None:
        wanted.append((settings.registry_port, "schema registry"))
    checks = []
    for port, what in wanted:
        if port in ours:
            checks.append(Check(f"port {port}", True, f"used by kafkalab's {what}"))
        elif port_free(settings.host, port):
            checks.append(Check(f"port {port}", True, f"free for the {what}"))
        else:
            checks.append(
                Check(
                    f"port {port}",
                    False,
                    f"taken by another program (needed for the {what})",
                    "stop that program, or move kafkalab with KAFKALAB_BROKER_PORT / "
                    "KAFKALAB_CONTROLLER_PORT / KAFKALAB_REGISTRY_PORT",
                )
            )
    return checks


def _cluster(status: lifecycle.ClusterStatus) -> Check:
    if status.running:
        up = sum(b.running for b in status.brokers)
        return Check("cluster", True, f"{up} broker(s) answering at {status.bootstrap}")
    return Check("cluster", WARN, "not running", "start it with `kafkalab cluster up`")


def _registry(status: lifecycle.ClusterStatus) -> Check:
    registry = status.registry
    if registry and registry.running:
        return Check("schema registry", True, f"{registry.url} ({registry.subjects} subjects)")
    url = registry.url if registry else "—"
    return Check(
        "schema registry", WARN, f"not answering at {url}", "`kafkalab cluster up` starts it"
    )
