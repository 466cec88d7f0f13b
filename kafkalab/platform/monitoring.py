"""The Prometheus server kafkalab runs: `kafkalab monitoring up|down|status`, `up --monitoring`.

A real Prometheus (the binary of Debian's `prometheus` package) started detached like the
brokers and the supervisor, with a pid file, on 127.0.0.1:`prometheus_port`. It scrapes what
`kafkalab alerts` scrapes (`control.scrape_targets`: every service replica, the platform's lag
endpoint, each broker's JMX exporter agent) with the same labels, and loads the shipped rule
file, so an alert means the same in either place. Its config and TSDB live in
`<data dir>/prometheus/`. Starting it again rewrites the config (a scaled service has more
targets) and, when it changed, tells the running server to reload it (SIGHUP).
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kafkalab import processes
from kafkalab.cluster.ports import port_free
from kafkalab.errors import KafkalabError, PortInUse
from kafkalab.monitoring import prometheus_api
from kafkalab.monitoring.live import LiveAlerts
from kafkalab.monitoring.rules import Alert, default_rule_file
from kafkalab.monitoring.scrape import Target, prometheus_config
from kafkalab.platform import control
from kafkalab.settings import Settings

Notify = Callable[[str], None]
SCRAPE_INTERVAL = "5s"
RETENTION = "2d"
"""A learner's laptop keeps two days of samples: enough for any lesson, small on disk."""
READY_TIMEOUT = 60.0
FIRST_SCRAPE_TIMEOUT = 20.0


class PrometheusNotInstalled(KafkalabError):
    hint = (
        "install it with `apt-get install prometheus` (scripts/bootstrap does, as root), or set "
        "KAFKALAB_PROMETHEUS to the binary's path"
    )


class PrometheusStartFailed(KafkalabError):
    hint = "read its log (named above); `kafkalab monitoring down` then `up` starts it afresh"


@dataclass(frozen=True)
class Paths:
    folder: Path

    @classmethod
    def of(cls, settings: Settings) -> Paths:
        return cls(settings.data_dir / "prometheus")

    @property
    def config(self) -> Path:
        return self.folder / "prometheus.yml"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def pid(self) -> Path:
        return self.folder / "prometheus.pid"

    @property
    def log(self) -> Path:
        return self.folder / "prometheus.log"


@dataclass
class MonitoringStatus:
    running: bool
    url: str
    pid: int | None = None
    targets: list[prometheus_api.TargetHealth] = field(default_factory=list)
    rules: list[prometheus_api.LoadedRule] = field(default_factory=list)

    @property
    def targets_up(self) -> int:
        return sum(1 for t in self.targets if t.health == "up")


def url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.prometheus_port}"


def binary(settings: Settings) -> str:
    """The Prometheus binary's path; PrometheusNotInstalled when there is none."""
    found = shutil.which(settings.prometheus)
    if found is None:
        raise PrometheusNotInstalled(f"the Prometheus server ({settings.prometheus}) is not found")
    return found


def write_config(settings: Settings) -> bool:
    """prometheus.yml for the platform as it runs now; True when it differs from the file's."""
    paths = Paths.of(settings)
    paths.folder.mkdir(parents=True, exist_ok=True)
    config = prometheus_config(
        settings, str(default_rule_file()), interval=SCRAPE_INTERVAL, found=_targets(settings)
    )
    text = "# written by kafkalab (platform/monitoring.py); rewritten on every start\n"
    text += yaml.safe_dump(config, sort_keys=False)
    if paths.config.exists() and paths.config.read_text() == text:
        return False
    paths.config.write_text(text)
    return True


def _targets(settings: Settings) -> list[Target]:
    return control.scrape_targets(settings)


def up(settings: Settings, notify: Notify | None = None) -> MonitoringStatus:
    """Prometheus running and ready on `prometheus_port`, each target scraped and each rule
    evaluated once (at most FIRST_SCRAPE_TIMEOUT); idempotent (a running one reloads a changed
    config). PortInUse when another program holds the port."""
    say = notify or (lambda _m: None)
    paths = Paths.of(settings)
    changed = write_config(settings)
    pid = processes.read_pid(paths.pid)
    if pid is not None:
        if changed:
            say("the targets changed: Prometheus reloads its config")
            processes.signal_pids([pid], signal.SIGHUP)
        _wait_ready(settings, pid)
        return _first_scrape(settings)
    program = binary(settings)
    if not port_free(settings.host, settings.prometheus_port):
        raise PortInUse(
            f"{settings.host}:{settings.prometheus_port} is taken by another program",
            hint="stop it (Debian's own prometheus.service? `systemctl disable --now "
            "prometheus`) or move kafkalab's with KAFKALAB_PROMETHEUS_PORT",
        )
    say(f"starting Prometheus on {url(settings)}")
    proc = processes.spawn(
        [
            program,
            f"--config.file={paths.config}",
            f"--storage.tsdb.path={paths.data}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address={settings.host}:{settings.prometheus_port}",
        ],
        paths.pid,
        paths.log,
    )
    _wait_ready(settings, proc.pid)
    return _first_scrape(settings)


def _first_scrape(settings: Settings) -> MonitoringStatus:
    """The status once every configured target has a scrape behind it and every rule an
    evaluation (a fresh server lists neither for its first seconds)."""
    wanted = {t.instance for t in _targets(settings)}
    deadline = time.monotonic() + FIRST_SCRAPE_TIMEOUT
    while True:
        found = status(settings)
        scraped = {t.instance for t in found.targets if t.health != "unknown"}
        evaluated = found.rules and all(r.health != "unknown" for r in found.rules)
        if (wanted <= scraped and evaluated) or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def _wait_ready(settings: Settings, pid: int) -> None:
    paths = Paths.of(settings)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not processes.pid_alive(pid):
            processes.wait_gone([pid], 1.0)  # reap it
            paths.pid.unlink(missing_ok=True)
            raise PrometheusStartFailed(f"Prometheus exited at start: {_last_error(paths.log)}")
        if prometheus_api.ready(url(settings)):
            return
        time.sleep(0.3)
    raise PrometheusStartFailed(
        f"Prometheus did not answer {url(settings)}/-/ready within {READY_TIMEOUT:.0f} s "
        f"(log: {paths.log})"
    )


def _last_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"no log at {log}"
    errors = [line for line in lines if "level=error" in line or "err=" in line]
    return (errors or lines or [f"nothing in {log}"])[-1][:300]


def down(settings: Settings) -> bool:
    """Stop it (SIGTERM, then SIGKILL); True if it was running. Its TSDB stays for next time."""
    return processes.stop(Paths.of(settings).pid, timeout=20)


def running_url(settings: Settings) -> str | None:
    """The URL of kafkalab's Prometheus when it runs and answers, else None."""
    if processes.read_pid(Paths.of(settings).pid) is None:
        return None
    address = url(settings)
    return address if prometheus_api.ready(address) else None


def status(settings: Settings) -> MonitoringStatus:
    address = url(settings)
    pid = processes.read_pid(Paths.of(settings).pid)
    if pid is None or not prometheus_api.ready(address):
        return MonitoringStatus(False, address, pid)
    return MonitoringStatus(
        True, address, pid, prometheus_api.targets(address), prometheus_api.loaded_rules(address)
    )


@dataclass
class AlertSource:
    """Where `kafkalab alerts` gets its verdicts: kafkalab's Prometheus when it runs, else the
    in-process evaluator over the same rule file. `name` says which, for the user."""

    name: str
    prometheus: str | None
    live: LiveAlerts | None

    def sample(self) -> list[Alert]:
        if self.prometheus is not None:
            return prometheus_api.alerts(self.prometheus)
        assert self.live is not None
        return self.live.sample()

    def once(self, spacing: float) -> list[Alert]:
        """Prometheus has its history already; the evaluator needs two scrapes for a rate."""
        if self.prometheus is not None:
            return self.sample()
        assert self.live is not None
        return self.live.once(spacing)


def alert_source(settings: Settings, rule_file: Path | None = None) -> AlertSource:
    """Prometheus when it runs (and no other rule file was asked for), else the evaluator."""
    address = None if rule_file is not None else running_url(settings)
    if address is not None:
        return AlertSource(f"Prometheus at {address} (its own rule evaluation)", address, None)
    why = (
        f"{rule_file} is not the rule file Prometheus loaded"
        if rule_file is not None
        else "Prometheus is not running: `kafkalab monitoring up` starts it"
    )
    live = LiveAlerts(control.scrape_targets(settings), rule_file)
    return AlertSource(f"kafkalab's in-process evaluator ({why})", None, live)
