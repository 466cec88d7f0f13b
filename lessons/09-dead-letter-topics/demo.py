"""Lesson 9: a poison pill among payment retries goes to payments.DLT with its reason in the
headers, the records behind it are paid, a retry waits for its backoff, and the poison is
replayed from the DLT once fixed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from confluent_kafka import KafkaError, Message, Producer, TopicPartition

from kafkalab.curriculum.lab import Lab
from kafkalab.events.serde import EventSerde, now_ms
from kafkalab.events.topics import PAYMENTS, PAYMENTS_DLT, PAYMENTS_RETRY
from kafkalab.load.shop import url
from kafkalab.services.payment.retry import RetryTicket

from .check import Decision, Seen

BACKOFF_MS = 3000  # how long the delayed retry must wait, as payment's RetryPolicy would set
SHOWN = ("error.type", "error.message", "original.topic", "original.offset", "attempts")


def demo(lab: Lab) -> Seen:
    lab.start_platform()
    retries = RetryWriter(lab, EventSerde(lab.conn), lab.producer(), _register(lab))
    poison, delayed = f"lesson09-{lab.run_id}-poison", f"lesson09-{lab.run_id}-later"
    healthy = [f"lesson09-{lab.run_id}-ok{n}" for n in range(1, 3)]
    start = {topic: _ends(lab, topic) for topic in (PAYMENTS, PAYMENTS_DLT)}

    # Records as payment itself writes them to payments.retry after a gateway failure: the
    # InventoryReserved event plus retry.attempts / retry.not_before headers. All on partition
    # 0, poison first: the ones behind it get paid only if the poison gets out of their way.
    now = now_ms()
    retries.send(poison, -1999, RetryTicket(1, now))
    for order in healthy:
        retries.send(order, 1500, RetryTicket(1, now))
    not_before = now + BACKOFF_MS
    retries.send(delayed, 2500, RetryTicket(2, not_before))
    offsets = retries.flush()
    lab.table(
        f"written to {PAYMENTS_RETRY}[0]",
        ["offset", "order", "what it is"],
        [
            [offsets[poison], poison, "poison: a negative amount no retry can fix"],
            *[[offsets[o], o, "a retry due now"] for o in healthy],
            [offsets[delayed], delayed, f"a retry due in {BACKOFF_MS / 1000:g} s"],
        ],
    )

    before = _decisions(lab, retries.serde, start[PAYMENTS], {*healthy, delayed})
    parked = _read(lab, start[PAYMENTS_DLT], lambda m: m.key() == poison.encode())
    headers = _headers(parked) if parked else None
    lab.show(f"the poison on {PAYMENTS_DLT}", [(k, (headers or {}).get(k, "-")) for k in SHOWN])
    lab.table(
        "payments decided",
        ["order", "decision", "attempts", "decided vs. due"],
        [
            [
                d.order_id,
                d.type,
                d.attempts,
                f"{d.written_ms - not_before:+d} ms" if d.order_id == delayed else "",
            ]
            for d in before
        ],
    )

    fixed = 0
    if parked is not None:
        # The fix: correct the data, leave the error headers behind, and give it a fresh retry
        # ticket so payment takes it as a retry due now. Same key: same order, same partition.
        event = retries.serde.decode(parked)
        fixed = abs(int(event.value["total_cents"]))
        attempts = int((headers or {}).get("retry.attempts", "1"))
        lab.say(f"Fixed the amount ({event.value['total_cents']} → {fixed}) and replayed it.")
        retries.send(poison, fixed, RetryTicket(attempts, now_ms()), trace=event.trace_id)
        retries.flush()
    after = _decisions(lab, retries.serde, start[PAYMENTS], {poison})
    lab.say(
        "payment's decisions for these made-up orders go on to the order service, which has "
        "never seen them: it dead-letters them to order.DLT, the same pattern one hop on."
    )
    return Seen(
        poison,
        offsets[poison],
        healthy,
        delayed,
        not_before,
        2,
        headers,
        before,
        [d for d in after if d.order_id == poison],
        fixed,
    )


@dataclass
class RetryWriter:
    """Writes InventoryReserved records with retry headers to payments.retry, partition 0."""

    lab: Lab
    serde: EventSerde
    producer: Producer
    user_id: str
    offsets: dict[str, int] = field(default_factory=dict)

    def send(self, order: str, cents: int, ticket: RetryTicket, trace: str | None = None) -> None:
        value = {
            "order_id": order,
            "user_id": self.user_id,
            "total_cents": cents,
            "card_masked": "**** 4242",
            "expires_at": now_ms() + 60_000,
            "items": [{"sku": "SKU-MUG", "quantity": 1, "unit_price_cents": cents}],
        }
        full, envelope = self.serde.envelope("InventoryReserved", value, "lesson09", trace_id=trace)
        data = self.serde.serialize(PAYMENTS_RETRY, "InventoryReserved", full)

        def noted(error: KafkaError | None, message: Message) -> None:
            self.offsets[order] = message.offset()

        headers = [*envelope, *ticket.headers("gateway error")]
        self.producer.produce(
            PAYMENTS_RETRY,
            key=order.encode(),
            value=data,
            partition=0,
            headers=headers,
            on_delivery=noted,
        )

    def flush(self) -> dict[str, int]:
        self.producer.flush(30)  # runs the delivery callbacks: the offsets are known after it
        return dict(self.offsets)


def _register(lab: Lab) -> str:
    """A real user: payment reads her balance from the `users` table the user service writes."""
    body = {
        "email": f"lesson09.{lab.run_id}@example.com",
        "name": "Lesson Nine",
        "password": "lesson-09-password",
        "balance_cents": 1_000_000,
    }
    answer = httpx.post(url(lab.settings, "user", "/users"), json=body, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["user_id"])


def _ends(lab: Lab, topic: str) -> list[TopicPartition]:
    consumer = lab.consumer(lab.group("offsets"))
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts]
        return [TopicPartition(topic, p, end[1]) for p, end in zip(parts, ends, strict=True)]
    finally:
        consumer.close()


def _collect(
    lab: Lab,
    start: list[TopicPartition],
    done: Callable[[list[Message]], bool],
    timeout: float = 60,
) -> list[Message]:
    """Records from `start` on (read_committed) until `done(records)` or `timeout`."""
    consumer = lab.consumer(lab.group("reader"))
    consumer.assign(start)
    found: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(found):
            found += [m for m in consumer.consume(200, timeout=0.5) if not m.error()]
    finally:
        consumer.close()
    return found


def _read(
    lab: Lab, start: list[TopicPartition], match: Callable[[Message], bool]
) -> Message | None:
    hits = [m for m in _collect(lab, start, lambda ms: any(map(match, ms))) if match(m)]
    return hits[0] if hits else None


def _decisions(
    lab: Lab, serde: EventSerde, start: list[TopicPartition], wanted: set[str]
) -> list[Decision]:
    """Payment's decisions (read back from `payments`) for this run's orders."""
    messages = _collect(lab, start, lambda ms: wanted <= {(m.key() or b"").decode() for m in ms})
    events = [serde.decode(m) for m in messages]
    return [
        Decision(
            str(e.value["order_id"]),
            e.type,
            int(e.value["amount_cents"]),
            int(e.value["attempts"]),
            e.timestamp_ms,
        )
        for e in events
        if (e.key or "").startswith(f"lesson09-{lab.run_id}")
    ]


def _headers(message: Message) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in message.headers() or []}
