"""Lesson 1: one order crosses all six services, and the topics alone tell the story."""

from __future__ import annotations

import time
import uuid

import httpx

from kafkalab import ui
from kafkalab.curriculum.lab import Lab
from kafkalab.events import topics as t
from kafkalab.events.serde import Event, now_ms
from kafkalab.load.shop import top_up_stock, url
from kafkalab.observe.trace import TRACE_TOPICS, order_events, read_events, trace_lines

from .check import Seen, Step

ITEMS = [{"sku": "SKU-BOOK", "quantity": 1}]
ANALYTICS_INPUTS = {"OrderCreated", "OrderStatusChanged", "PaymentCompleted"}


def place_order(lab: Lab) -> str:
    """What a shop's web page would do: three HTTP calls. Everything after is events."""
    run = uuid.uuid4().hex[:8]
    email, password = f"lesson01.{run}@example.com", f"lesson-one-{run}"
    with httpx.Client(timeout=30) as http:
        top_up_stock(lab.settings, http, {"SKU-BOOK": 1})  # earlier runs may have sold it out
        user = {
            "email": email,
            "name": "Grace",
            "phone": "+44 7700 900123",
            "password": password,
            "balance_cents": 50_000,
        }
        http.post(url(lab.settings, "user", "/users"), json=user).raise_for_status()
        login = http.post(
            url(lab.settings, "user", "/login"), json={"email": email, "password": password}
        )
        token = login.raise_for_status().json()["token"]
        order = {"items": ITEMS, "card_number": "4242424242424242"}
        answer = http.post(
            url(lab.settings, "order", "/orders"),
            json=order,
            headers={"Authorization": f"Bearer {token}"},
        )
        return str(answer.raise_for_status().json()["order_id"])


def status_of(events: list[Event]) -> str | None:
    changes = sorted(
        (e for e in events if e.type == "OrderStatusChanged"),
        key=lambda e: (e.timestamp_ms, e.offset),
    )
    return str(changes[-1].value["to_status"]) if changes else None


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    started = now_ms()
    order_id = place_order(lab)
    lab.say(f"Order {order_id[:8]} accepted (HTTP 201). Now only Kafka carries it on.")

    deadline = time.monotonic() + 90
    while True:  # read the topics back (read_committed) until the story is complete
        events = read_events(lab.conn, (*TRACE_TOPICS, t.ANALYTICS), since_ms=started)
        mine = order_events(events, order_id)
        # Analytics keeps running totals; each update carries the timestamp of the event it
        # counted (quixstreams passes it on), and that is how it links to this order.
        inputs = {e.timestamp_ms: e for e in mine if e.type in ANALYTICS_INPUTS}
        counted = [e for e in events if e.topic == t.ANALYTICS and e.timestamp_ms in inputs]
        sent = sum(1 for e in mine if e.type == "NotificationSent")
        if (
            status_of(mine) == "CONFIRMED" and sent >= 3 and counted
        ) or time.monotonic() > deadline:
            break
        time.sleep(1)

    lines = trace_lines(mine)  # sorted so that every event comes after its cause
    if not lab.quiet:
        ui.trace(lines, title=f"order {order_id[:8]}: every event, in causal order")
    lab.table(
        "analytics: the running totals this order moved",
        ["metric", "window", "value", "counts"],
        [
            [e.value["metric"], e.value["window"], e.value["value"], inputs[e.timestamp_ms].type]
            for e in counted
        ],
    )
    # The check gets the records as read back (topic, partition, offset, broker timestamp),
    # not the sorted trace above: it judges "after its cause" from what the broker stored.
    steps = [_step(e, e.event_id, e.causation_id) for e in mine]
    steps += [_step(e, f"{e.topic}@{e.offset}", inputs[e.timestamp_ms].event_id) for e in counted]
    return Seen(order_status=status_of(mine), steps=steps)


def _step(event: Event, event_id: str, cause: str) -> Step:
    return Step(
        event.service,
        event.type,
        event_id,
        cause,
        event.topic,
        event.partition,
        event.offset,
        event.timestamp_ms,
    )
