# expect: had committed offset 5, so the restart read them again
"""Lesson 8 exercise — commit before or after?

Goal: this payment job reads `orders` in batches of 5 and charges each order (it writes the
charge to a `charges` topic). Put the commit where each mode needs it: `at_most_once()` must
never charge an order twice (a crash may skip some), `at_least_once()` must never lose one (a
crash may charge some twice).

`kafkalab lesson 8` runs this file once per mode and kills it right after it charges order 7,
runs it again to finish, then reads each mode's charges and committed offsets back from the
broker.
"""

import time

from confluent_kafka import Consumer, Producer, TopicPartition

from kafkalab.exercise import setup

lab = setup()
MODE: str = lab.params["mode"]  # "at-most-once" or "at-least-once": one run of this file each
CRASH_AFTER: int | None = lab.params["crash_after"]  # None on the run that finishes the job
BATCH = 5
ORDERS = lab.topic("orders")  # one partition: offsets 0, 1, 2, … in order
CHARGES = lab.topic(f"charges.{MODE}")

consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group(MODE),
        # A static member (lesson 7): the restarted job takes the killed one's place at once.
        "group.instance.id": "payment-job",
        "auto.offset.reset": "earliest",
        # Offsets move only when this code calls commit(): nothing commits in the background.
        "enable.auto.commit": False,
    }
)
# Idempotent: a retried send is never written twice, so any double charge is the consumer's.
producer = Producer({**lab.config, "enable.idempotence": True})


def batches():
    """The orders, BATCH at a time, up to the end the topic had when the job started."""
    _, end = consumer.get_watermark_offsets(TopicPartition(ORDERS, 0), timeout=10)
    while True:
        batch = [m for m in consumer.consume(BATCH, timeout=5) if not m.error()]
        if not batch:
            return
        yield batch
        if batch[-1].offset() + 1 >= end:
            return


def charge(order):
    """Processing: write the charge, and wait until the broker has it."""
    producer.produce(CHARGES, key=order.key(), value=order.value())
    producer.flush(10)
    if order.offset() == CRASH_AFTER:
        print(f"charged order {order.offset()}; now the process dies")
        time.sleep(60)  # the grader SIGKILLs the process here: no commit, no close()


def at_most_once():
    for batch in batches():
        for order in batch:
            charge(order)
        # Committed once the batch is charged, so nothing is marked done too early.
        consumer.commit(asynchronous=False)


def at_least_once():
    for batch in batches():
        for order in batch:
            charge(order)
        # Committed once all of it is charged: a crash mid-batch charges its start again.
        consumer.commit(asynchronous=False)


consumer.subscribe([ORDERS])
try:
    if MODE == "at-most-once":
        at_most_once()
    else:
        at_least_once()
finally:
    consumer.close()
print(f"{MODE}: done")
