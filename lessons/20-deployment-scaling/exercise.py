"""Lesson 20 exercise — lose no acknowledged record when the leader dies.

Goal: this producer writes a run of payments to a topic with a copy on each of three brokers,
and it was tuned for speed: a payment counts as written once the leader alone has it. While it
runs, the grader stops both followers, SIGKILLs the partition leader, then lets the followers
go on. Choose the topic's `min.insync.replicas` and the producer's `acks` and
`enable.idempotence` so that every payment the broker acknowledged survives, exactly once.

`kafkalab lesson 20` runs this file on a separate three-broker cluster, reads the topic back
with its own consumer, asks the broker which producer ids it tracks, and restarts the broker.
"""

import json
import time

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafkalab.exercise import setup

lab = setup()
TOPIC = lab.topic("payments")
PAYMENTS = lab.params["payments"]  # this run's payment ids, one record each
PACE_S = lab.params["pace_s"]  # the pause between two payments: the failure lands mid-run
# The producer's claims: one line per acknowledged payment. The grader checks each against
# what the broker holds afterwards; it never takes this file's word for it.
ACKED_FILE = lab.params["acked_file"]

admin = AdminClient(lab.config)
topic = NewTopic(
    TOPIC,
    num_partitions=1,
    replication_factor=3,  # a leader and two followers, each on its own broker
    # TODO: how many replicas must be in sync before the leader accepts an acks=all write?
    #       (kafkalab's three-broker cluster defaults to 2; this topic overrides it)
    config={"min.insync.replicas": "1"},
)
admin.create_topics([topic])[TOPIC].result(30)

producer = Producer(
    {
        **lab.config,
        # TODO: when does the leader answer a write: once it has the record itself, or once
        #       every in-sync replica has it? And may a retry after a failover write twice?
        "acks": "1",
        "enable.idempotence": False,
        "linger.ms": 5,
    }
)

failed: list[str] = []


def delivered(err: KafkaError | None, msg: Message) -> None:
    """The broker's answer for one payment, served inside poll()/flush()."""
    if err is not None:
        failed.append(f"{msg.key()!r}: {err}")
        return
    with open(ACKED_FILE, "a") as claims:  # at once: the grader watches this file
        claims.write(f"{(msg.key() or b'').decode()} {msg.offset()}\n")


for n, payment in enumerate(PAYMENTS):
    value = {"payment": payment, "amount_cents": 100 + n}
    producer.produce(TOPIC, key=payment, value=json.dumps(value), on_delivery=delivered)
    producer.poll(0)  # serve the delivery reports that have come in
    time.sleep(PACE_S)

# A leader that dies takes unanswered writes with it: the producer retries them on the new
# leader once the controller has elected one, so flush() can take as long as a failover.
left = producer.flush(60)
print(f"{len(PAYMENTS) - left - len(failed)} acknowledged, {len(failed)} failed, {left} unanswered")
if failed:
    print("first failure:", failed[0])
