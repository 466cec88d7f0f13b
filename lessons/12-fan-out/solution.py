"""Lesson 12 exercise — a router that fans one request out to its channels. (reference solution)

Goal: `requests` holds notification requests, each keyed by its user id and naming the channels
the user wants (email, sms, push and the new one, webhook). Add the webhook channel and complete
`route()` so each request is written once to the topic of every channel it asks for — and to no
other — keyed by its user id; then commit each request only once its copies are on the broker.

`kafkalab lesson 12` seeds the requests, runs this file, then reads the four channel topics and
your group's committed offsets back from the broker.
"""

import json

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from kafkalab.exercise import setup

lab = setup()
SOURCE = lab.topic("requests")
CHANNEL_TOPICS = {  # one topic per channel: each has its own readers, offsets and lag
    "email": lab.topic("email"),
    "sms": lab.topic("sms"),
    "push": lab.topic("push"),
    "webhook": lab.topic("webhook"),
}

producer = Producer(lab.config)
consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("router"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,  # the loop below commits, once a request is fanned out
        "enable.partition.eof": True,  # an event at each partition's end: the loop knows it is done
    }
)


def route(msg: Message) -> None:
    """Write `msg`'s request to the topic of each channel it asks for."""
    request = json.loads(msg.value() or b"{}")
    for channel in request["channels"]:
        copy = {**request, "channel": channel}
        # The same key (the user id) on every channel topic: a user's notifications hash to one
        # partition there too, so each channel keeps them in the order they were requested.
        producer.produce(CHANNEL_TOPICS[channel], key=msg.key(), value=json.dumps(copy).encode())


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
        route(msg)
        # Every channel's copy is on the broker before the request counts as done: a crash in
        # between fans it out again (a duplicate), it never drops a channel.
        producer.flush(30)
        consumer.commit(message=msg, asynchronous=False)
finally:
    consumer.close()  # leaves the group at once instead of after session.timeout.ms
print(f"done: fanned out {SOURCE} to the end of partitions {sorted(assigned)}")
