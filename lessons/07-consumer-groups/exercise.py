"""Lesson 7 exercise — a worker that comes back as itself.

Goal: make this worker a static member of its consumer group (KIP-345), so that when it is
killed and started again it takes its old place: the same partitions, and no rebalance for the
rest of the group. Give its consumer a `group.instance.id` that is the same at every start.

`kafkalab lesson 7` runs this worker beside a consumer of its own in the same group, SIGKILLs
the worker, starts it again at once, and asks the broker (describe_consumer_groups) and its own
consumer what the restart did to the group.
"""

import time

from confluent_kafka import Consumer

from kafkalab.exercise import setup

lab = setup()
RUN_FOR: float = lab.params["seconds"]  # the grader kills the worker meanwhile, then restarts it

consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("workers"),
        # TODO: make this consumer a static member: add a "group.instance.id" whose value is
        #       the same every time this worker starts.
        "partition.assignment.strategy": "cooperative-sticky",
        # The coordinator declares a member dead after this much silence and gives its
        # partitions away: 6 s is the broker's minimum (group.min.session.timeout.ms).
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest",
    }
)


def on_assign(consumer, partitions):
    print("assigned:", sorted(p.partition for p in partitions))


def on_revoke(consumer, partitions):
    print("revoked:", sorted(p.partition for p in partitions))


consumer.subscribe([lab.topic("jobs")], on_assign=on_assign, on_revoke=on_revoke)
stop_at = time.monotonic() + RUN_FOR
try:
    while time.monotonic() < stop_at:
        # poll() hands out fetched records and runs the rebalance callbacks; heartbeats go
        # from librdkafka's own thread.
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        print(f"partition {msg.partition()}: {msg.value().decode()}")
finally:
    # A static member's close() sends no LeaveGroup: the group keeps its place for it until
    # session.timeout.ms runs out, so a quick restart finds its partitions waiting.
    consumer.close()
