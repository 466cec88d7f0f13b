"""Lesson 13: a stock check by request-reply — correlation id, reply topic, and a timeout."""

from __future__ import annotations

import threading
import time
import uuid

from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import Event, EventSerde
from kafkalab.services.order.replies import PendingReply, ReplyBoard
from kafkalab.services.products import PRODUCTS
from kafkalab.services.tables import TopicTable

from .check import TIMEOUT, Asked, Seen

WAIT = 3.0  # seconds the requester waits for a reply (the order service: request_timeout, 5 s)
SLOW_SKU, SLOW_SECONDS = "SKU-LAPTOP", 5.0  # the replier's slow path: longer than WAIT
FAST = [("SKU-BOOK", 1), ("SKU-MUG", 2), ("SKU-HOODIE", 999), ("SKU-KEYBOARD", 1)]


def replier(lab: Lab, requests: str, ready: threading.Event, stop: threading.Event) -> None:
    """The inventory side, small: answer each request on *its* reply_to topic, keyed and
    tagged with *its* correlation id (kafkalab's inventory does this in `_answer`)."""
    serde, producer = EventSerde(lab.conn), lab.producer()
    consumer = lab.consumer(lab.group("replier"))
    consumer.subscribe([requests], on_assign=lambda *_: ready.set())  # a group, like inventory
    try:
        while not stop.is_set():
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            request = serde.decode(message).value
            missing = [
                i["sku"]
                for i in request["items"]
                if i["quantity"] > PRODUCTS[i["sku"]].initial_stock
            ]
            if any(i["sku"] == SLOW_SKU for i in request["items"]):
                stop.wait(SLOW_SECONDS)  # a slow lookup: the requester stops waiting meanwhile
            value = {"correlation_id": request["correlation_id"], "available": not missing}
            full, headers = serde.envelope(
                "StockCheckReplied", {**value, "missing_skus": missing}, "replier"
            )
            data = serde.serialize(request["reply_to"], "StockCheckReplied", full)
            producer.produce(request["reply_to"], key=message.key(), value=data, headers=headers)
            producer.flush(10)
    finally:
        consumer.close()


def demo(lab: Lab) -> Seen:
    requests = lab.topic("stock-requests", partitions=3)
    replies = lab.topic("stock-replies", partitions=3)
    board = ReplyBoard()  # the order service's own bookkeeping of waiting requests
    late: list[str] = []
    on_topic: list[str] = []

    def on_reply(event: Event) -> None:
        on_topic.append(event.value["correlation_id"])
        if not board.deliver(event):  # nobody waits for this id (any more): drop it
            late.append(event.value["correlation_id"])

    # Every requester reads *all* partitions of the reply topic, from the end it has now.
    listener = TopicTable(lab.conn, replies, on_reply, name=lab.group("replies"))
    listener.start(listener.ends(replies))
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=replier, args=(lab, requests, ready, stop), daemon=True)
    thread.start()
    serde, producer = EventSerde(lab.conn), lab.producer()

    def ask(sku: str, quantity: int, expected: str) -> tuple[Asked, PendingReply]:
        cid = str(uuid.uuid4())
        pending = board.expect(cid)  # before sending: a fast reply cannot slip past us
        item = {
            "sku": sku,
            "quantity": quantity,
            "unit_price_cents": PRODUCTS[sku].unit_price_cents,
        }
        value = {"correlation_id": cid, "reply_to": replies, "items": [item]}
        full, headers = serde.envelope("StockCheckRequested", value, "requester")
        data = serde.serialize(requests, "StockCheckRequested", full)
        producer.produce(requests, key=cid, value=data, headers=headers)
        return Asked(cid, sku, quantity, expected, TIMEOUT), pending

    def wait(asked: Asked, pending: PendingReply) -> Asked:
        reply = pending.wait(WAIT)
        board.forget(asked.correlation_id)  # answered or not, stop waiting: later ones are late
        if reply is not None:
            asked.outcome = "available" if reply.value["available"] else "unavailable"
            asked.reply_id = reply.value["correlation_id"]
        return asked

    try:
        ready.wait(30)  # the replier has joined its group and owns the request partitions
        lab.say(f"{len(FAST)} stock checks in flight at once, each with its own correlation id.")
        flying = [
            ask(sku, q, "available" if q <= PRODUCTS[sku].initial_stock else "unavailable")
            for sku, q in FAST
        ]
        producer.flush(10)
        asked = [wait(a, p) for a, p in flying]
        lab.say(
            f"One more for {SLOW_SKU}: the replier takes {SLOW_SECONDS:g} s, we wait {WAIT:g} s."
        )
        slow = ask(SLOW_SKU, 1, TIMEOUT)
        producer.flush(10)
        asked.append(wait(*slow))
        deadline = time.monotonic() + 30
        while slow[0].correlation_id not in late and time.monotonic() < deadline:
            time.sleep(0.1)  # the late reply is still on its way
    finally:
        stop.set()
        thread.join(15)
        listener.stop()
    lab.table(
        "stock checks",
        ["correlation id", "item", "answer", "reply for", "late, dropped"],
        [
            [
                a.correlation_id[:8],
                f"{a.sku}×{a.quantity}",
                a.outcome,
                (a.reply_id or "—")[:8],
                a.correlation_id in late,
            ]
            for a in asked
        ],
    )
    return Seen(timeout=WAIT, asked=asked, late=late, replies=on_topic)
