# expect: points at
"""Lesson 9 exercise — poison to the DLT, timeouts retried.

Goal: `payments` holds good payments, poison ones no retry can fix (`InvalidPayment`), and
payments whose first gateway call times out (`GatewayTimeout`). Complete `process()` so a
transient failure is retried and a permanent one is dead-lettered at once, and `dead_letter()`
so each parked record says where it came from, with the headers kafkalab's services write.

`kafkalab lesson 9` seeds the records, runs this file, then reads `paid`, the DLT and your
group's committed offsets back from the broker.
"""

import json
import time
from collections import Counter

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from kafkalab.exercise import setup

lab = setup()
SOURCE = lab.topic("payments")
OUTPUT = lab.topic("paid")
DLT = lab.topic("payments.DLT")
MAX_ATTEMPTS = 3  # a transient failure gets this many tries in all before it is dead-lettered
BACKOFF_S = 0.05  # the wait before the second try; it doubles for each try after that


class InvalidPayment(Exception):
    """Permanent: the record itself is wrong, and will be just as wrong on every retry."""


class GatewayTimeout(Exception):
    """Transient: the gateway did not answer in time; the same call may well work soon."""


def parse(value: bytes | None) -> dict:
    """The payment in a record's value; InvalidPayment when there is none to be had."""
    try:
        payment = json.loads(value or b"")
    except ValueError as error:  # not JSON, or not even UTF-8
        raise InvalidPayment(f"not a JSON payment: {error}") from None
    if not isinstance(payment, dict) or not isinstance(payment.get("order_id"), str):
        raise InvalidPayment("no order_id")
    amount = payment.get("amount_cents")
    if not isinstance(amount, int) or amount <= 0:
        raise InvalidPayment(f"amount_cents must be a positive integer, got {amount!r}")
    return payment


class Gateway:
    """A stand-in for the card gateway: the first charge of each order in `flaky` times out."""

    def __init__(self, flaky: list[str]) -> None:
        self.flaky = set(flaky)
        self.calls: Counter[str] = Counter()

    def charge(self, order_id: str, amount_cents: int) -> str:
        self.calls[order_id] += 1
        if order_id in self.flaky and self.calls[order_id] == 1:
            raise GatewayTimeout(f"no answer for order {order_id} within 2 s")
        return f"auth-{order_id}-{amount_cents}"


gateway = Gateway(lab.params["flaky"])
producer = Producer(lab.config)
consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("payments"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,  # the loop below commits, after each record is handled
        "enable.partition.eof": True,  # an event at each partition's end: the loop knows it is done
    }
)


def handle(msg: Message) -> None:
    """Charge one payment and write the result to OUTPUT; raises whatever went wrong."""
    payment = parse(msg.value())
    authorisation = gateway.charge(payment["order_id"], payment["amount_cents"])
    result = {**payment, "authorisation": authorisation}
    producer.produce(OUTPUT, key=msg.key(), value=json.dumps(result).encode())


def dead_letter(msg: Message, error: Exception, attempts: int) -> None:
    """Park `msg` on the DLT unchanged (same key, same value), the reason in its headers."""
    headers = list(msg.headers() or []) + [
        ("error.type", type(error).__name__.encode()),
        ("error.message", str(error)[:1000].encode()),
        ("attempts", str(attempts).encode()),
        # Where it came from: an operator finds the original by these, and replays it.
        ("original.topic", msg.topic().encode()),
        ("original.partition", str(msg.partition()).encode()),
        ("original.offset", str(msg.offset() + 1).encode()),
    ]
    producer.produce(DLT, key=msg.key(), value=msg.value(), headers=headers)


def process(msg: Message) -> None:
    """Handle one record: its result reaches OUTPUT, or the record itself reaches the DLT."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            handle(msg)
            return
        except InvalidPayment as error:  # permanent: a retry would fail the same way
            dead_letter(msg, error, attempt)
            return
        except GatewayTimeout as error:  # transient: wait a little, then try again
            if attempt == MAX_ATTEMPTS:
                dead_letter(msg, error, attempt)
                return
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))


assigned: set[int] = set()
at_end: set[int] = set()
consumer.subscribe([SOURCE], on_assign=lambda c, parts: assigned.update(p.partition for p in parts))
try:
    while not assigned or assigned - at_end:  # until every assigned partition is read
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        error = msg.error()
        if error is not None and error.code() == KafkaError._PARTITION_EOF:
            at_end.add(msg.partition())
            continue
        if error is not None:
            raise KafkaException(error)
        process(msg)
        # Its result or its dead letter is on the broker first, then the offset moves past it
        # (commit(message=…) commits msg.offset() + 1): a crash in between repeats the record,
        # it never loses one.
        producer.flush(30)
        consumer.commit(message=msg, asynchronous=False)
finally:
    consumer.close()  # leaves the group at once instead of after session.timeout.ms
print(f"done: read {SOURCE} to the end of partitions {sorted(assigned)}")
