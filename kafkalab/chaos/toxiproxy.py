"""Toxiproxy: the TCP proxy that network chaos goes through, its process and its HTTP API.

Shopify's toxiproxy-server (v2, built from its Go module by scripts/bootstrap) runs detached
like the brokers, with a pid file and a log under `<data dir>/toxiproxy/`. It holds one proxy
per broker, `broker-N`: it listens on the port the broker's PROXIED listener advertises
(`settings.proxy_ports`) and forwards to that listener. A toxic on a proxy (latency, a
bandwidth cap, a reset, a black hole) hurts every connection through it, and only those: the
brokers' own traffic and every client on the PLAINTEXT listener go around it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from kafkalab import processes
from kafkalab.cluster import config
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings

VERSION = "v2.12.0"
"""The toxiproxy module version scripts/bootstrap builds (`go install …/cmd/server@VERSION`)."""
MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
START_WAIT = 10.0
INSTALL_HINT = (
    "run scripts/bootstrap (it builds toxiproxy with Go: "
    f"`go install {MODULE}@{VERSION}`), or set KAFKALAB_TOXIPROXY to a toxiproxy-server binary"
)

Stream = Literal["upstream", "downstream"]
"""Toxiproxy's words: upstream is client → broker (requests), downstream broker → client."""


class ToxiproxyMissing(KafkalabError):
    hint = INSTALL_HINT


class ToxiproxyError(KafkalabError):
    hint = "see <data dir>/toxiproxy/toxiproxy.log"


@dataclass(frozen=True)
class Proxy:
    """One proxy: where it listens, where it forwards, and whether it is on."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


@dataclass(frozen=True)
class Toxic:
    """One toxic on a proxy's stream; `attributes` are the type's own (`latency`, `rate` …)."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)


def installed_path(settings: Settings) -> Path:
    """Where scripts/bootstrap puts the binary: a versioned folder of kafkalab's cache dir."""
    return settings.cache_dir / f"toxiproxy-{VERSION.lstrip('v')}" / "toxiproxy-server"


def find_binary(settings: Settings) -> Path | None:
    """KAFKALAB_TOXIPROXY, else the one bootstrap built, else toxiproxy-server on PATH."""
    if settings.toxiproxy:
        found = shutil.which(settings.toxiproxy)
        return Path(found) if found else None
    built = installed_path(settings)
    if built.is_file():
        return built
    found = shutil.which("toxiproxy-server")
    return Path(found) if found else None


def require_binary(settings: Settings) -> Path:
    binary = find_binary(settings)
    if binary is None:
        where = settings.toxiproxy or f"{installed_path(settings)} or toxiproxy-server on PATH"
        raise ToxiproxyMissing(f"network chaos needs toxiproxy, which is not installed ({where})")
    return binary


class Client:
    """Toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api), the calls we use."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            answer = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"toxiproxy at {self.url} did not answer: {exc}") from exc
        if answer.status_code >= 400:
            raise ToxiproxyError(
                f"toxiproxy refused {method} {path}: {answer.status_code} {answer.text.strip()}"
            )
        return answer.json() if answer.content else None

    def version(self) -> str:
        try:
            return self.http.get("/version").text.strip()
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"toxiproxy at {self.url} did not answer: {exc}") from exc

    def proxies(self) -> dict[str, Proxy]:
        return {name: _proxy(body) for name, body in self._call("GET", "/proxies").items()}

    def ensure_proxy(self, proxy: Proxy) -> Proxy:
        """The proxy as asked for: created, or replaced when one of that name differs."""
        existing = self.proxies().get(proxy.name)
        if existing == proxy:
            return existing
        if existing is not None:
            self._call("DELETE", f"/proxies/{proxy.name}")
        return _proxy(self._call("POST", "/proxies", asdict(proxy)))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """A disabled proxy closes its connections and refuses new ones."""
        return _proxy(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        return _toxic(self._call("POST", f"/proxies/{proxy}/toxics", asdict(toxic)))

    def toxics(self, proxy: str) -> list[Toxic]:
        return [_toxic(body) for body in self._call("GET", f"/proxies/{proxy}/toxics")]

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Every proxy enabled again and every toxic removed: the network healed."""
        self._call("POST", "/reset")


def _proxy(body: dict[str, Any]) -> Proxy:
    return Proxy(body["name"], body["listen"], body["upstream"], bool(body["enabled"]))


def _toxic(body: dict[str, Any]) -> Toxic:
    return Toxic(
        body["name"],
        body["type"],
        body["stream"],
        float(body["toxicity"]),
        dict(body.get("attributes") or {}),
    )


def home(settings: Settings) -> Path:
    return settings.data_dir / "toxiproxy"


def pid_file(settings: Settings) -> Path:
    return home(settings) / "toxiproxy.pid"


def api_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.toxiproxy_api_port()}"


def start(settings: Settings) -> Client:
    """Toxiproxy's API, starting the server (detached) unless it already runs."""
    client = Client(api_url(settings))
    if processes.read_pid(pid_file(settings)) is not None:
        try:
            client.version()
            return client
        except ToxiproxyError:
            pass  # a stale or foreign process: start our own below
    binary = require_binary(settings)
    home(settings).mkdir(parents=True, exist_ok=True)
    proc = processes.spawn(
        [str(binary), "-host", settings.host, "-port", str(settings.toxiproxy_api_port())],
        pid_file(settings),
        home(settings) / "toxiproxy.log",
    )
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client.version()
            return client
        except ToxiproxyError:
            time.sleep(0.1)
    stop(settings)
    raise ToxiproxyError(
        f"toxiproxy did not start on {api_url(settings)} within {START_WAIT:.0f} s",
        hint=f"see {home(settings) / 'toxiproxy.log'} (is port "
        f"{settings.toxiproxy_api_port()} taken? move it with KAFKALAB_TOXIPROXY_PORT)",
    )


def stop(settings: Settings) -> bool:
    """Stop our toxiproxy server; True when one was running."""
    return processes.stop(pid_file(settings), timeout=5)


def broker_proxies(settings: Settings, brokers: int) -> list[Proxy]:
    """One proxy per broker: toxiproxy's port for it → the broker's PROXIED listener."""
    host = settings.host
    return [
        Proxy(node.name, f"{host}:{node.proxy_port}", f"{host}:{node.secure_port}")
        for node in config.node_specs(settings, brokers)
    ]


def ensure_broker_proxies(client: Client, settings: Settings, brokers: int) -> list[Proxy]:
    """Every broker's proxy, created (or corrected) as `broker_proxies` says."""
    return [client.ensure_proxy(proxy) for proxy in broker_proxies(settings, brokers)]
