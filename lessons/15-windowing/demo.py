"""Lesson 15: tumbling and hopping windows over the same orders, with two late arrivals."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from quixstreams.dataframe.windows import Count, Sum

from kafkalab.curriculum import quix
from kafkalab.curriculum.lab import Lab

from .check import Event, Late, Seen, Window

SIZE_MS, STEP_MS, GRACE_MS = 10_000, 5_000, 5_000
# Event times, in seconds after a minute boundary, in the order they are sent. 27 arrives after
# 33 (late, but its window [20, 30) is open until 30 + 5 = 35); 8 arrives after 33 too, and
# its window [0, 10) closed at 15. 70 moves stream time on, so every earlier window closes.
TIMELINE = [1, 3, 7, 12, 14, 18, 21, 26, 29, 33, 27, 8, 36, 41, 44, 70]


def demo(lab: Lab) -> Seen:
    orders_topic = lab.topic("orders")  # one partition: the app reads in exactly the sent order
    tumbling_topic, hopping_topic = lab.topic("tumbling"), lab.topic("hopping")
    base = (int(time.time() * 1000) - 15 * 60_000) // 60_000 * 60_000
    sent = [Event(base + s * 1000, random.randrange(500, 10_000)) for s in TIMELINE]
    producer = lab.producer()
    for event in sent:  # the record timestamp IS the event time the windows use
        producer.produce(
            orders_topic,
            key=b"shop",
            value=json.dumps({"cents": event.cents}).encode(),
            timestamp=event.ts,
        )
    producer.flush(30)
    lab.say(f"Produced {len(sent)} orders with event times (s): {', '.join(map(str, TIMELINE))}.")

    dropped: list[Late] = []

    def on_late(
        value: Any,
        key: Any,
        timestamp_ms: int,
        late_by_ms: int,
        start: int,
        end: int,
        store_name: str,
        topic: str,
        partition: int,
        offset: int,
    ) -> bool:
        dropped.append(Late(timestamp_ms, start, end))  # the record is skipped for this window
        return False  # we keep our own note instead of quixstreams' warning line

    app = quix.application(lab, lab.group("windows"))
    sdf = app.dataframe(app.topic(orders_topic, key_deserializer="str", value_deserializer="json"))
    # Two branches of one stream. Windows are per message key (here one key, "shop").
    # .final() emits a window once, when stream time passes its end + grace.
    for window, topic in (
        (sdf.tumbling_window(SIZE_MS, grace_ms=GRACE_MS, on_late=on_late), tumbling_topic),
        (sdf.hopping_window(SIZE_MS, STEP_MS, grace_ms=GRACE_MS, on_late=on_late), hopping_topic),
    ):
        window.agg(orders=Count(), revenue_cents=Sum("cents")).final().to_topic(
            app.topic(topic, value_serializer="json")
        )
    lab.say("Running the app until it has been idle for 4 s (every record read).")
    quix.run_bounded(app, count=0, idle=4, deadline=90)

    def windows(topic: str) -> list[Window]:
        values = [json.loads(m.value() or b"{}") for m in quix.read_all(lab, topic)]
        return [Window(v["start"], v["end"], v["orders"], v["revenue_cents"]) for v in values]

    tumbling, hopping = windows(tumbling_topic), windows(hopping_topic)
    for title, found in (("tumbling 10 s", tumbling), ("hopping 10 s, every 5 s", hopping)):
        lab.table(
            title,
            ["window (s)", "orders", "revenue"],
            [
                [
                    f"[{(w.start - base) // 1000}, {(w.end - base) // 1000})",
                    w.orders,
                    f"{w.revenue_cents / 100:.2f}",
                ]
                for w in found
            ],
        )
    lab.table(
        "records dropped as too late (once per window kind)",
        ["event time (s)", "window (s)"],
        [
            [(x.ts - base) // 1000, f"[{(x.start - base) // 1000}, {(x.end - base) // 1000})"]
            for x in dropped
        ],
    )
    return Seen(SIZE_MS, STEP_MS, GRACE_MS, sent, tumbling, hopping, dropped)
