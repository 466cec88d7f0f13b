"""Network faults between one service and the brokers, through toxiproxy.

`kafkalab chaos latency|bandwidth|reset-peer|partition SERVICE` goes like this:

1. toxiproxy runs (started if needed) with one proxy per broker in front of its PROXIED
   listener (chaos/toxiproxy.py);
2. the service is put behind the proxies: listed in platform/proxied.json and its replicas
   restarted, so the supervisor starts them with `via_proxy` (platform/routing.py). Every
   other service keeps the direct listener, so only this one is hurt;
3. a load runs (as for a kill), a probe producer runs behind the same proxies (chaos/probe.py),
   the toxics go on for `--for` seconds, then the network heals;
4. the load finishes, the invariant checker judges every order since the start, the
   service goes back to the direct listener and toxiproxy stops. Healing, the way back and the
   stop also happen on an error or Ctrl-C.

The timeline, the load's tally and the checker's verdict are the runner's (chaos/runner.py).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Literal

import httpx

from kafkalab import localhttp
from kafkalab.catalogue.services import SERVICES, group_id
from kafkalab.chaos import faults, runner, toxiproxy, watch
from kafkalab.chaos.probe import Probe, ProbeFigures
from kafkalab.chaos.toxiproxy import Stream, Toxic
from kafkalab.cluster import config, connect
from kafkalab.cluster.state import ClusterState
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice
from kafkalab.events.serde import now_ms
from kafkalab.platform import files, routing
from kafkalab.settings import Settings

Kind = Literal["latency", "bandwidth", "reset-peer", "partition"]
KINDS: tuple[Kind, ...] = ("latency", "bandwidth", "reset-peer", "partition")
DEFAULT_FOR = 10.0
"""Seconds a fault lasts unless `--for` says otherwise."""
RESTART_WAIT = 60.0
"""How long moving a service behind the proxies (or back) waits for its replicas."""


@dataclass(frozen=True)
class Fault:
    """A network fault as the command line gives it."""

    kind: Kind
    ms: int = 0  # latency: added delay
    jitter: int = 0  # latency: ± this much
    kbps: int = 0  # bandwidth: KB/s each way
    stream: Stream = "downstream"  # latency: which way (downstream = broker → client)

    def describe(self) -> str:
        if self.kind == "latency":
            jitter = f" ± {self.jitter}" if self.jitter else ""
            way = "responses" if self.stream == "downstream" else "requests"
            return f"latency +{self.ms}{jitter} ms on every {way[:-1]}"
        if self.kind == "bandwidth":
            return f"bandwidth capped at {self.kbps} KB/s each way"
        if self.kind == "reset-peer":
            return "every connection reset (TCP RST) as soon as data flows"
        return "partition: every byte each way dropped, connections left open (a black hole)"


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise InvalidChoice(
            f"unknown network fault '{kind}'", hint=f"choose one of: {', '.join(KINDS)}"
        )
    return kind  # type: ignore[return-value]


def toxics(fault: Fault) -> list[Toxic]:
    """The toxiproxy toxics that make `fault`, on each broker's proxy."""
    if fault.kind == "latency":
        if fault.ms <= 0:
            raise InvalidChoice("latency needs --ms above 0", hint="e.g. `--ms 200 --jitter 50`")
        attributes = {"latency": fault.ms, "jitter": fault.jitter}
        return [Toxic("kafkalab-latency", "latency", fault.stream, attributes=attributes)]
    if fault.kind == "bandwidth":
        if fault.kbps <= 0:
            raise InvalidChoice("bandwidth needs --kbps above 0", hint="e.g. `--kbps 16`")
        return [
            Toxic(f"kafkalab-bandwidth-{way}", "bandwidth", way, attributes={"rate": fault.kbps})
            for way in ("upstream", "downstream")
        ]
    if fault.kind == "reset-peer":
        return [Toxic("kafkalab-reset-peer", "reset_peer", "upstream", attributes={"timeout": 0})]
    # timeout 0: the data is dropped and the connection is never closed, as in a partition.
    return [
        Toxic(f"kafkalab-partition-{way}", "timeout", way, attributes={"timeout": 0})
        for way in ("upstream", "downstream")
    ]


def heal(client: toxiproxy.Client) -> None:
    """Every toxic off and every proxy enabled: the network as it was."""
    client.reset()


@dataclass
class NetworkReport(runner.ChaosReport):
    fault: str = ""
    probe: ProbeFigures | None = None


def run(
    settings: Settings,
    conn: Connection,
    fault: Fault,
    service: str,
    seconds: float = DEFAULT_FOR,
    during_load: int | None = runner.DEFAULT_LOAD,
    notify: runner.Notify | None = None,
    delivery_timeout_ms: int | None = None,
) -> NetworkReport:
    """Hurt `service`'s network for `seconds` under a load; the timeline, what the client did
    and the checker's verdict. The network heals and the service returns to the direct
    listener before this returns or raises."""
    toxics(fault)  # a bad --ms or --kbps is refused before anything is touched
    brokers = _check_ready(settings, service)
    report = NetworkReport(fault.kind, service, fault=fault.describe())
    clock = runner._Clock(report, notify or (lambda _m: None))
    client = toxiproxy.start(settings)
    try:
        heal(client)  # a clean slate: nothing left over from an interrupted run
        for proxy in toxiproxy.ensure_broker_proxies(client, settings, brokers):
            clock.note("note", f"toxiproxy {proxy.name}: {proxy.listen} → {proxy.upstream}")
        _route(settings, conn, service, True, clock)
        since = now_ms()
        proxied = connect.resolve(settings.model_copy(update={"via_proxy": True}))
        probe = Probe(conn, proxied, brokers, delivery_timeout_ms)
        probe.start()
        flight = runner._InFlight()
        load = (
            runner._start_load(settings, conn, during_load, report, clock, flight)
            if during_load
            else None
        )
        for proxy in toxiproxy.broker_proxies(settings, brokers):
            for toxic in toxics(fault):
                client.add_toxic(proxy.name, toxic)
        report.faults = 1
        clock.note("fault", f"{fault.describe()} for {seconds:g} s{flight.describe()}")
        time.sleep(seconds)
        heal(client)
        probe.healed()
        clock.note("note", "healed: toxics removed")
        if load is not None:
            load.join()
        report.probe = probe.stop()
        if report.probe.first_ack_after_heal_s is not None:
            report.recovery_seconds.append(report.probe.first_ack_after_heal_s)
            clock.note(
                "recovered",
                f"the probe's first acknowledgement {report.probe.first_ack_after_heal_s:.1f} s "
                "after the heal",
            )
        from kafkalab.observe.verify import verify_orders  # reads every topic: load it on use

        clock.note("note", "running the invariant checker over everything since the start")
        report.verify = verify_orders(conn, None, since_ms=since, settle_seconds=30)
    finally:
        heal(client)
        _route(settings, conn, service, False, clock)
        client.close()
        toxiproxy.stop(settings)  # it runs only while a network fault does
    return report


def _check_ready(settings: Settings, service: str) -> int:
    """The broker count, once the cluster and the platform can take a network fault."""
    if service not in SERVICES:
        raise InvalidChoice(
            f"network faults hurt a service, not '{service}'",
            hint=f"one of: {', '.join(SERVICES)}",
        )
    toxiproxy.require_binary(settings)
    state = ClusterState.load(settings)
    if settings.external or state is None:
        raise InvalidChoice(
            "network faults need kafkalab's own cluster (its brokers' PROXIED listener)",
            hint="`kafkalab up` starts one",
        )
    if state.secure:
        raise InvalidChoice(
            "network faults run on the plain cluster: a secure one has no PROXIED listener",
            hint="`kafkalab cluster reset --yes && kafkalab up` makes a plain one",
        )
    node = config.node_specs(settings, state.brokers)[0]
    if config.PROXIED not in node.properties_file.read_text():
        raise InvalidChoice(
            "the brokers were started before they had a PROXIED listener",
            hint="restart them: `kafkalab down --all && kafkalab up`",
        )
    faults.resolve(settings, service)  # the platform runs (one sentence otherwise)
    return state.brokers


def _route(
    settings: Settings, conn: Connection, service: str, proxied: bool, clock: runner._Clock
) -> None:
    """Move every replica of `service` behind the proxies (or back) and wait until each one
    answers /health again and, for a consumer, has rejoined its group."""
    if (service in routing.proxied(settings)) == proxied:
        return
    routing.set_proxied(settings, service, proxied)
    rows = [r for r in files.read_status(settings).replicas if r.service == service and r.pid]
    for row in rows:
        os.kill(row.pid or 0, signal.SIGTERM)  # the supervisor restarts it, newly routed
    where = "through toxiproxy" if proxied else "on the direct listener again"
    clock.note("note", f"restarting {len(rows)} {service} replica(s) to connect {where}")
    old = {row.replica: row.pid for row in rows}
    deadline = time.monotonic() + RESTART_WAIT
    while time.monotonic() < deadline:
        fresh = [
            r
            for r in files.read_status(settings).replicas
            if r.service == service and r.pid and r.pid != old.get(r.replica) and _healthy(r.port)
        ]
        if len(fresh) >= len(rows):
            break
        time.sleep(runner.POLL)
    if service in ("user", "analytics"):  # user has no group; analytics' is quixstreams'
        clock.note("note", f"{service} is {where} (/health answers)")
        return
    wanted = {f"{service}-{r.replica}" for r in rows}
    while time.monotonic() < deadline:
        if wanted <= set(watch.group_snapshot(conn, group_id(service)).members):
            clock.note("note", f"{service} is {where} and back in its group")
            return
        time.sleep(runner.POLL)
    clock.note("note", f"{service} did not rejoin its group within {RESTART_WAIT:.0f} s")


def _healthy(port: int) -> bool:
    try:
        return localhttp.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
