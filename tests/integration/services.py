"""Helpers for service integration tests: run a service in a thread, read events back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from confluent_kafka import Message

from kafkalab import clients
from kafkalab.cluster import lifecycle
from kafkalab.events.serde import Event, EventSerde
from kafkalab.events.topics import apply_catalogue
from kafkalab.platform import control
from kafkalab.services.runtime import Service
from kafkalab.settings import Settings, load_settings
from tests.helpers import free_port, free_port_block

S = TypeVar("S", bound=Service)


def ensure_topics(settings: Settings) -> None:
    """The platform's topic catalogue (idempotent)."""
    apply_catalogue(clients.admin(settings), brokers=1)


@contextmanager
def running(service_class: type[S], settings: Settings, replica: int = 0) -> Iterator[S]:
    """`service_class` running on a free port in a background thread until the block ends."""
    service = service_class(settings, replica, free_port())
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
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"service on port {port} never became healthy")


def read_raw(
    settings: Settings,
    topic: str,
    count: int,
    timeout: float = 30.0,
    where: Callable[[Message], bool] = lambda m: True,
) -> list[Message]:
    """Up to `count` records of `topic` (from the beginning) that satisfy `where`."""
    consumer = clients.consumer(settings, f"test-reader-{time.time_ns()}")
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
    settings: Settings,
    topic: str,
    count: int,
    timeout: float = 30.0,
    where: Callable[[Event], bool] = lambda e: True,
) -> list[Event]:
    """Decoded events of `topic` satisfying `where` (e.g. one order id), until `count` arrived."""
    serde = EventSerde(settings)
    consumer = clients.consumer(settings, f"test-reader-{time.time_ns()}")
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
    settings: Settings, topic: str, key: str, record_type: str, value: dict, service: str = "test"
) -> dict:
    """Emit one event as a service would (envelope + causal headers); returns the full value."""
    serde = EventSerde(settings)
    full, headers = serde.envelope(record_type, value, service)
    producer = clients.producer(settings)
    producer.produce(
        topic, key=key.encode(), value=serde.serialize(topic, record_type, full), headers=headers
    )
    assert producer.flush(10) == 0
    return full


@contextmanager
def own_platform(data_dir: Path, secure: bool = False, **overrides: Any) -> Iterator[Settings]:
    """A cluster of its own on free ports plus the six services, stopped afterwards.

    Modules that start services use this instead of the session cluster: other modules leave
    events for made-up users there, which a fresh consumer group would have to wade through.
    """
    base = free_port_block(44)
    settings = load_settings(
        data_dir=data_dir,
        broker_port=base,
        controller_port=base + 1,
        registry_port=base + 2,
        secure_port=base + 3,
        service_port=base + 4,
        **overrides,
    )
    try:
        control.up(settings, timeout=180.0 if secure else 90.0, secure=secure)
        yield settings
    finally:
        control.down(settings)
        lifecycle.down(settings)
