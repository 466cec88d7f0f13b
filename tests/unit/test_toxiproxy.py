"""kafkalab's toxiproxy client against the real toxiproxy-server (no Kafka here): proxies are
created idempotently, each toxic kafkalab uses does to a TCP stream what the chaos commands
say it does, and a reset heals. The upstream is a small echo server of the test's own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkalab.chaos import toxiproxy
from kafkalab.chaos.toxiproxy import Proxy, Toxic
from kafkalab.settings import Settings, load_settings
from tests import toxi
from tests.helpers import free_port_block


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    """A TCP echo server on a free loopback port (the proxies' upstream)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:  # a reset_peer toxic or a black hole's cut connection
                return

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield port
    server.close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = free_port_block(8)
    return load_settings(
        data_dir=tmp_path_factory.mktemp("toxi"), broker_port=base, toxiproxy_port=base + 4
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[toxiproxy.Client]:
    with toxi.running(settings) as client:
        yield client


@pytest.fixture
def proxy(client: toxiproxy.Client, echo: int) -> Iterator[Proxy]:
    listen = free_port_block(1)
    made = client.ensure_proxy(Proxy("echo", f"127.0.0.1:{listen}", f"127.0.0.1:{echo}"))
    yield made
    client.delete_proxy("echo")


def _round_trip(proxy: Proxy, payload: bytes = b"ping", timeout: float = 5.0) -> bytes:
    host, port = proxy.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def test_the_server_answers_and_start_is_idempotent(
    settings: Settings, client: toxiproxy.Client
) -> None:
    assert client.version()
    pid = Path(toxiproxy.pid_file(settings)).read_text()
    again = toxiproxy.start(settings)  # already running: the same server, no second process
    assert Path(toxiproxy.pid_file(settings)).read_text() == pid
    again.close()


def test_a_proxy_forwards_and_ensure_proxy_is_idempotent(
    client: toxiproxy.Client, proxy: Proxy
) -> None:
    assert _round_trip(proxy) == b"ping"
    assert client.ensure_proxy(proxy) == proxy
    assert client.proxies()["echo"] == proxy


def test_latency_delays_the_answer_and_removing_it_heals(
    client: toxiproxy.Client, proxy: Proxy
) -> None:
    client.add_toxic(proxy.name, Toxic("slow", "latency", attributes={"latency": 400}))
    assert [t.name for t in client.toxics(proxy.name)] == ["slow"]
    began = time.monotonic()
    assert _round_trip(proxy) == b"ping"
    # A lower bound only: the toxic holds each chunk 400 ms, however fast the machine is.
    assert time.monotonic() - began >= 0.4
    client.remove_toxic(proxy.name, "slow")
    assert client.toxics(proxy.name) == []


def test_a_black_hole_swallows_data_until_reset(client: toxiproxy.Client, proxy: Proxy) -> None:
    for stream in ("upstream", "downstream"):
        client.add_toxic(proxy.name, Toxic(f"cut-{stream}", "timeout", stream, attributes={}))
    with pytest.raises(TimeoutError):
        _round_trip(proxy, timeout=1.0)
    client.reset()
    assert client.toxics(proxy.name) == []
    assert _round_trip(proxy) == b"ping"


def test_reset_peer_resets_the_connection(client: toxiproxy.Client, proxy: Proxy) -> None:
    client.add_toxic(proxy.name, Toxic("rst", "reset_peer", "upstream", attributes={"timeout": 0}))
    with pytest.raises((ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        for _ in range(3):  # the reset may show on the send or on the receive
            if not _round_trip(proxy, timeout=2.0):
                raise ConnectionResetError("closed")
    client.reset()
    assert _round_trip(proxy) == b"ping"


def test_a_disabled_proxy_refuses_connections(client: toxiproxy.Client, proxy: Proxy) -> None:
    assert client.set_enabled(proxy.name, False).enabled is False
    with pytest.raises(ConnectionRefusedError):
        _round_trip(proxy)
    client.reset()  # enables every proxy again
    assert _round_trip(proxy) == b"ping"


def test_refusals_become_one_sentence(client: toxiproxy.Client) -> None:
    with pytest.raises(toxiproxy.ToxiproxyError, match="refused POST /proxies/nope/toxics: 404"):
        client.add_toxic("nope", Toxic("x", "latency", attributes={"latency": 1}))


def test_a_missing_binary_is_one_sentence_with_the_hint(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, toxiproxy=str(tmp_path / "no-such-binary"))
    with pytest.raises(toxiproxy.ToxiproxyMissing) as caught:
        toxiproxy.start(settings)
    assert "network chaos needs toxiproxy" in caught.value.message
    assert "scripts/bootstrap" in caught.value.hint


def test_broker_proxies_point_at_the_proxied_listeners() -> None:
    settings = load_settings(broker_port=9092, secure_port=9192)
    assert toxiproxy.broker_proxies(settings, 3) == [
        Proxy(f"broker-{i + 1}", f"127.0.0.1:{9159 + i}", f"127.0.0.1:{9192 + i}") for i in range(3)
    ]
