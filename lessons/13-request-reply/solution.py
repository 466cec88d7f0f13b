"""Lesson 13 exercise — listen before you ask, and take only your own replies. (reference solution)

Goal: this requester sends stock checks to `requests` and waits for the answers on `replies`,
a topic other requesters share. Make `listen()` assign every partition of `replies` at its
current end and call it *before* the first request goes out, then accept a reply only when
its `correlation_id` header names a request you are still waiting for.

`kafkalab lesson 13` runs a responder that answers each request within milliseconds (and other
requesters' replies land on `replies` too), runs this file, then reads `results` back from the
broker: one record per request, keyed by its correlation id, holding exactly its own reply.
"""

import json
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from kafkalab.exercise import setup

lab = setup()
REQUESTS = lab.topic("requests")
REPLIES = lab.topic("replies")
RESULTS = lab.topic("results")
ASKS = lab.params["asks"]  # [sku, quantity] for each stock check to send
WAIT_S = 3.0  # how long the requester waits for its replies before it gives up on the rest

producer = Producer({**lab.config, "linger.ms": 0})  # a caller is waiting: send at once
replies = Consumer(
    {
        **lab.config,
        "group.id": lab.group("requester"),  # librdkafka wants one; assign() never joins it
        "auto.offset.reset": "latest",
        "enable.auto.commit": False,
    }
)


def listen() -> None:
    """From now on, read every reply written to REPLIES, on every partition."""
    partitions = replies.list_topics(REPLIES, timeout=10).topics[REPLIES].partitions
    start = []
    for p in partitions:
        _, end = replies.get_watermark_offsets(TopicPartition(REPLIES, p), timeout=10, cached=False)
        start.append(TopicPartition(REPLIES, p, end))  # a concrete offset, fixed before sending
    # assign(), not subscribe(): every requester reads all partitions, outside any group, and
    # nothing waits for a join before it reads.
    replies.assign(start)


def correlation_id(msg: Message) -> str | None:
    """The reply's correlation_id header: the id of the request it answers."""
    for key, value in msg.headers() or []:
        if key == "correlation_id" and value is not None:
            return value.decode()
    return None


waiting: dict[str, list] = {}  # correlation id → the [sku, quantity] asked, until answered
listen()  # before the first request: a reply that comes back at once is already ahead of us
for sku, quantity in ASKS:
    cid = str(uuid.uuid4())  # unique per request: the only link between it and its reply
    waiting[cid] = [sku, quantity]
    producer.produce(
        REQUESTS,
        key=cid,
        value=json.dumps({"sku": sku, "quantity": quantity}).encode(),
        headers=[("correlation_id", cid.encode()), ("reply_to", REPLIES.encode())],
    )
producer.flush(10)

deadline = time.monotonic() + WAIT_S
try:
    while waiting and time.monotonic() < deadline:
        msg = replies.poll(0.1)
        if msg is None:
            continue
        if msg.error() is not None:
            raise KafkaException(msg.error())
        cid = correlation_id(msg)
        if cid not in waiting:
            continue  # another requester's reply, or a late one: not ours to take
        waiting.pop(cid)
        # The answer, unchanged, keyed by the request it answers.
        producer.produce(RESULTS, key=cid, value=msg.value())
finally:
    replies.close()
    producer.flush(10)
for cid, (sku, quantity) in waiting.items():
    print(f"no reply for {sku}×{quantity} ({cid}) within {WAIT_S:g} s")
