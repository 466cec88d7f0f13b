"""Rebuild what happened to one order from the topics alone, in causal order.

Every event carries `trace_id` and `causation_id` headers, so the path of an order —
registration, login, stock check, reservation, payment, confirmation, notifications — can be
reassembled without any store but Kafka: read the topics back (read_committed), keep the
events of this order and its user, and sort them so that every event comes after its cause.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events import topics as t
from kafkalab.events.fastdecode import FastDecoder
from kafkalab.events.schema_client import SchemaClient
from kafkalab.events.serde import Event, UndecodableEvent

TRACE_TOPICS = (
    t.USER_EVENTS,
    t.INVENTORY_REQUESTS,
    t.INVENTORY_REPLIES,
    t.ORDER_EVENTS,
    t.INVENTORY_EVENTS,
    t.PAYMENTS,
    t.NOTIFICATIONS,
    *t.CHANNEL_TOPICS.values(),  # the NotificationRequested events, one per channel
)
USER_TYPES = {"UserRegistered", "UserLoggedIn", "UserPreferencesUpdated"}


@dataclass
class TraceLine:
    at_ms: int  # since the first event of the trace
    service: str
    topic: str
    partition: int
    offset: int
    event_type: str
    summary: str
    event_id: str
    causation_id: str


class ReadIncomplete(KafkalabError):
    hint = "the broker may be overloaded; try again, or narrow the read with --since"


def read_events(
    conn: Connection,
    topics: tuple[str, ...] = TRACE_TOPICS,
    timeout: float = 20.0,
    since_ms: int | None = None,
    strict: bool = False,
) -> list[Event]:
    """Every event currently in `topics`, from the first offset to the (committed) end.

    `since_ms` starts each partition at the first record stamped at or after that time
    (offsetsForTimes) instead of its first offset. `strict` raises ReadIncomplete when
    `timeout` passes before every partition was read to its end, instead of returning the
    part that was read — a checker must not judge half a topic.
    """
    consumer = clients.consumer(conn, "kafkalab-observe", **{"enable.auto.commit": False})
    decoder = FastDecoder(SchemaClient(conn))
    metadata = consumer.list_topics(timeout=10)
    assignment, ends = [], {}
    for topic in topics:
        if topic not in metadata.topics:
            continue
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if since_ms is not None and high > low:
                [found] = consumer.offsets_for_times(
                    [TopicPartition(topic, partition, since_ms)], timeout=10
                )
                low = high if found.offset < 0 else max(low, found.offset)
            if high > low:
                assignment.append(TopicPartition(topic, partition, low))
                ends[(topic, partition)] = high
    events: list[Event] = []
    if not assignment:
        consumer.close()
        return events
    consumer.assign(assignment)
    deadline = time.monotonic() + timeout
    try:
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error():
                    continue
                key = (msg.topic(), msg.partition())
                with contextlib.suppress(UndecodableEvent):
                    events.append(decoder.decode(msg))
                if key in ends and msg.offset() + 1 >= ends[key]:
                    del ends[key]
            # transaction markers can sit at the very end: position tells when we are done
            for tp in consumer.position([TopicPartition(k[0], k[1]) for k in list(ends)]):
                if tp.offset >= ends.get((tp.topic, tp.partition), 0):
                    ends.pop((tp.topic, tp.partition), None)
    finally:
        consumer.close()
    if strict and ends:
        where = ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(ends)[:5])
        raise ReadIncomplete(f"could not read {where} to the end within {timeout:g} s")
    return events


def order_events(events: list[Event], order_id: str) -> list[Event]:
    """The order's events, the request-reply exchange that admitted it (if order asked
    inventory), and its user's."""
    mine = [e for e in events if e.value.get("order_id") == order_id]
    user_ids = {e.value.get("user_id") for e in mine if e.value.get("user_id")}
    traces = {e.trace_id for e in mine if e.trace_id}
    causes = {e.causation_id for e in mine if e.causation_id}
    chosen = {id(e) for e in mine}
    extra = [
        e
        for e in events
        if id(e) not in chosen
        and (
            (e.type in USER_TYPES and e.value.get("user_id") in user_ids)
            or (e.trace_id in traces and e.topic in (t.INVENTORY_REQUESTS, t.INVENTORY_REPLIES))
            or e.event_id in causes
        )
    ]
    return mine + extra


def causal_order(events: list[Event]) -> list[Event]:
    """Topological order by causation_id; among ready events, the earliest timestamp first."""
    by_id = {e.event_id: e for e in events}
    children: dict[str, list[Event]] = {}
    waiting: dict[int, int] = {}
    ready: list[tuple[int, int, int, Event]] = []
    for seq, event in enumerate(events):
        parent = event.causation_id
        if parent and parent in by_id and parent != event.event_id:
            children.setdefault(parent, []).append(event)
            waiting[id(event)] = 1
        else:
            heapq.heappush(ready, (event.timestamp_ms, event.offset, seq, event))
    ordered: list[Event] = []
    seen: set[int] = set()
    counter = len(events)
    while ready:
        _, _, _, event = heapq.heappop(ready)
        if id(event) in seen:
            continue
        seen.add(id(event))
        ordered.append(event)
        for child in children.get(event.event_id, []):
            counter += 1
            heapq.heappush(ready, (child.timestamp_ms, child.offset, counter, child))
    ordered += [e for e in events if id(e) not in seen]  # a cycle cannot happen; be safe anyway
    return ordered


def summarize(event: Event) -> str:
    """The few fields a learner wants to see on one line."""
    v: dict[str, Any] = event.value
    match event.type:
        case "UserRegistered" | "UserLoggedIn":
            return f"user={_short(v.get('user_id'))}"
        case "UserPreferencesUpdated":
            channels = (v.get("preferences") or {}).get("channels") or {}
            off = ", ".join(c for c, on in channels.items() if on is False) or "none"
            return f"user={_short(v.get('user_id'))} opted out: {off}"
        case "OrderCreated":
            return f"order={_short(v.get('order_id'))} total={_money(v.get('total_cents'))} card={v.get('card_masked')}"
        case "OrderStatusChanged":
            reason = f" ({v['reason']})" if v.get("reason") else ""
            return f"order={_short(v.get('order_id'))} {v.get('from_status')} → {v.get('to_status')}{reason}"
        case "StockCheckRequested" | "StockCheckReplied":
            extra = f" available={v.get('available')}" if "available" in v else ""
            return f"correlation={_short(v.get('correlation_id'))}{extra}"
        case "PaymentCompleted":
            return f"order={_short(v.get('order_id'))} charged {_money(v.get('amount_cents'))}"
        case "PaymentFailed":
            return f"order={_short(v.get('order_id'))} {v.get('reason')}"
        case "NotificationRequested" | "NotificationSent":
            return f"order={_short(v.get('order_id'))} channel={v.get('channel')}"
        case _:
            return f"order={_short(v.get('order_id'))}" if v.get("order_id") else ""


def trace_lines(events: list[Event]) -> list[TraceLine]:
    ordered = causal_order(events)
    start = min((e.timestamp_ms for e in ordered), default=0)
    return [
        TraceLine(
            e.timestamp_ms - start,
            e.service,
            e.topic,
            e.partition,
            e.offset,
            e.type,
            summarize(e),
            e.event_id,
            e.causation_id,
        )
        for e in ordered
    ]


def _short(value: object) -> str:
    text = str(value or "")
    return text[:8] if len(text) > 12 else text


def _money(cents: object) -> str:
    return f"{int(cents or 0) / 100:.2f}"  # type: ignore[call-overload]


@dataclass
class OrderTrace:
    """One order's causal trace, as `kafkalab trace` prints it and `--json` emits it."""

    order_id: str
    status: str | None  # the latest status on order-events ("CREATED" before any change)
    lines: list[TraceLine]


class UnknownOrder(KafkalabError):
    hint = "`kafkalab tail order-events` lists recent orders"


def resolve_order_id(events: list[Event], wanted: str) -> str:
    """`wanted` itself when an event names it, else the one order id it is a prefix of.

    Traces print ids shortened to 8 characters, so a learner pasting one should still find
    the order; a prefix shared by several orders is refused rather than guessed.
    """
    ids = {str(e.value["order_id"]) for e in events if e.value.get("order_id")}
    if wanted in ids:
        return wanted
    matches = sorted(i for i in ids if wanted and i.startswith(wanted))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownOrder(
            f"{len(matches)} orders start with {wanted!r} ({', '.join(matches[:3])}, …)",
            "give more of the order id",
        )
    raise UnknownOrder(f"no events for order {wanted} on the topics")


def trace_order(conn: Connection, order_id: str) -> OrderTrace:
    """Read the topics back and rebuild the causal trace of `order_id` (or a unique prefix)."""
    events = read_events(conn, TRACE_TOPICS, timeout=60.0)
    found = resolve_order_id(events, order_id)
    mine = order_events(events, found)
    changes = sorted(
        (e for e in mine if e.topic == t.ORDER_EVENTS and e.type == "OrderStatusChanged"),
        key=lambda e: (e.timestamp_ms, e.offset),
    )
    created = any(e.type == "OrderCreated" for e in mine)
    status = str(changes[-1].value["to_status"]) if changes else ("CREATED" if created else None)
    return OrderTrace(found, status, trace_lines(mine))
