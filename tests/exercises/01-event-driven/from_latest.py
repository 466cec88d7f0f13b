# expect: no record reached
"""Lesson 1 exercise — react to an event with an event.

Goal: you are the inventory service. For every OrderCreated on `order-events`, publish one
InventoryReserved to `inventory-events`, keyed by the same order id, with two headers that let
a trace follow cause → effect across topics: `causation_id` (the cause's `event_id`) and
`trace_id` (copied from the cause's headers).

`kafkalab lesson 1` seeds the orders and runs this file; then, while your service is down, more
orders arrive, and it runs it again. It reads both topics back: one effect per cause, same key,
headers naming the right cause, and no effect stamped before its cause.
"""

import json
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from kafkalab.exercise import setup

lab = setup()
ORDERS, RESERVED = lab.topic("order-events"), lab.topic("inventory-events")

consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("inventory"),  # this service's group: its offsets are its memory
        "auto.offset.reset": "latest",  # only new orders matter
        "enable.partition.eof": True,  # say when a partition has been read to its end
    }
)
producer = Producer({**lab.config, "acks": "all"})  # an event is a fact: it must not vanish


def react(cause: Message) -> None:
    """One OrderCreated in, one InventoryReserved out."""
    order = json.loads(cause.value())
    headers = dict(cause.headers() or [])  # name → bytes, e.g. headers["trace_id"]
    effect = {
        "event_id": str(uuid.uuid4()),  # a new fact gets an id of its own
        "type": "InventoryReserved",
        "order_id": order["order_id"],
        "sku": order["sku"],
        "quantity": order["quantity"],
    }
    producer.produce(
        RESERVED,
        key=cause.key(),  # the order id: this order's events stay in order with each other
        value=json.dumps(effect).encode(),
        # the causal headers: what caused this event, and which user action it belongs to
        headers={"causation_id": order["event_id"], "trace_id": headers["trace_id"]},
    )


consumer.subscribe([ORDERS])
ended: set[int] = set()  # partitions read to their end
try:
    while True:
        msg = consumer.poll(1.0)  # one record (or event) at a time; also joins the group
        if msg is not None and msg.error() is None:
            ended.discard(msg.partition())
            react(msg)
        elif msg is not None and msg.error().code() == KafkaError._PARTITION_EOF:
            ended.add(msg.partition())
        elif msg is not None:
            raise KafkaException(msg.error())
        producer.poll(0)  # serve delivery reports as we go
        assigned = {tp.partition for tp in consumer.assignment()}
        if assigned and assigned <= ended:
            break  # every partition read to its end: nothing left to react to
finally:
    producer.flush(10)  # every effect delivered before the service stops
    consumer.close()  # commits the offsets it has consumed (auto commit), then leaves the group
print("inventory service: every order handled")
