"""Helpers for service integration tests: run a service in a thread, read events back."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
from confluent_kafka import Message

from kafkalab import clients, localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde
from kafkalab.events.topics import apply_catalogue
from kafkalab.services.runtime import Service
from kafkalab.settings import Settings
from tests.helpers import free_port

S = TypeVar("S", bound=Service)


def ensure_topics(conn: Connection) -> None:
    """The platform's topic catalogue (idempotent)."""
    apply_catalogue(clients.admin(conn))


@contextmanager
def running(
    service_class: type[S], settings: Settings, conn: Connection, replica: int = 0
) -> Iterator[S]:
    """`service_class` running on a free port in a background thread until the block ends."""
    service = service_class(settings, conn, replica, free_port())
    thread = threading.Thread(target=service.run, name=service_class.name, daemon=True)
    thread.start()
    wait_healthy(service.port)
    try:
        yield service
    finally:
        service.stopping.set()
        thread.join(30)


def wait_healthy(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if localhttp.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"service on port {port} never became healthy")


def assert_documented(port: int, operations: list[tuple[str, str]]) -> None:
    """The service's `/openapi.json` lists `operations` (method, path) with their bodies, and
    its `/docs` page loads every asset from the service itself: no external URL at all."""
    base = f"http://127.0.0.1:{port}"
    spec = localhttp.get(f"{base}/openapi.json", timeout=10)
    assert spec.status_code == 200, spec.text
    paths = spec.json()["paths"]
    schemas = spec.json()["components"]["schemas"]
    for method, path in operations:
        assert method.lower() in paths.get(path, {}), f"{method} {path} not in {list(paths)}"
        operation = paths[path][method.lower()]
        if method == "POST":
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[-1] in schemas
    page = localhttp.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert not re.findall(r"(?:https?:)?//[\w.-]+", page.text), "the page names an outside URL"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        answer = localhttp.get(f"{base}{asset}", timeout=10)
        assert answer.status_code == 200 and answer.content, asset


def read_raw(
    conn: Connection,
    topic: str,
    count: int,
    timeout: float = 30.0,
    where: Callable[[Message], bool] = lambda m: True,
) -> list[Message]:
    """Up to `count` records of `topic` (from the beginning) that satisfy `where`."""
    consumer = clients.consumer(conn, f"test-reader-{time.time_ns()}")
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            out += [m for m in consumer.consume(200, timeout=0.3) if not m.error() and where(m)]
    finally:
        consumer.close()
    return out


def read_events(
    conn: Connection,
    topic: str,
    count: int,
    timeout: float = 30.0,
    where: Callable[[Event], bool] = lambda e: True,
) -> list[Event]:
    """Decoded events of `topic` satisfying `where` (e.g. one order id), until `count` arrived."""
    serde = EventSerde(conn)
    consumer = clients.consumer(conn, f"test-reader-{time.time_ns()}")
    consumer.subscribe([topic])
    out: list[Event] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            for msg in consumer.consume(200, timeout=0.3):
                if msg.error():
                    continue
                event = serde.decode(msg)
                if where(event):
                    out.append(event)
    finally:
        consumer.close()
    return out


def publish(
    conn: Connection, topic: str, key: str, record_type: str, value: dict, service: str = "test"
) -> dict:
    """Emit one event as a service would (envelope + causal headers); returns the full value."""
    serde = EventSerde(conn)
    full, headers = serde.envelope(record_type, value, service)
    producer = clients.producer(conn)
    producer.produce(
        topic, key=key.encode(), value=serde.serialize(topic, record_type, full), headers=headers
    )
    assert producer.flush(10) == 0
    return full
