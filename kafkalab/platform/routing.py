"""Which services reach Kafka through toxiproxy: `<data dir>/platform/proxied.json`.

`kafkalab chaos latency|bandwidth|reset-peer|partition SERVICE` writes the service here and
restarts its replicas; the supervisor starts a listed service with `via_proxy`, so its clients
bootstrap through toxiproxy's proxies and stay behind them (the brokers' PROXIED listener
advertises the proxies). Every other service keeps the direct listener. The command removes
the entry (and restarts the replicas again) when it ends, Ctrl-C included.
"""

from __future__ import annotations

import json
from pathlib import Path

from kafkalab.platform.files import platform_dir, write_json
from kafkalab.settings import Settings


def proxied_file(settings: Settings) -> Path:
    return platform_dir(settings) / "proxied.json"


def proxied(settings: Settings) -> set[str]:
    """The services whose replicas connect through toxiproxy (none when the file is absent)."""
    try:
        return set(json.loads(proxied_file(settings).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return set()


def set_proxied(settings: Settings, service: str, behind_proxy: bool) -> None:
    """Put `service` behind the proxies, or take it back to the direct listener."""
    names = proxied(settings)
    names = names | {service} if behind_proxy else names - {service}
    proxied_file(settings).parent.mkdir(parents=True, exist_ok=True)
    write_json(proxied_file(settings), sorted(names))
