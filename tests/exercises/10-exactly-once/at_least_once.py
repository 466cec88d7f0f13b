# expect: the restart labelled that batch again
"""Lesson 10 exercise — exactly once, through a crash (planted: no transaction: flush the labels, then commit the offsets (lesson 8)).

Goal: this processor reads orders and writes one shipping label per order (the order in
capitals); it must survive a crash without losing or repeating a label. Make each batch one
transaction, so that its labels and the input offsets it consumed commit together or not at all:
a transactional.id on the producer, init_transactions() once, then per batch begin_transaction(),
produce, send_offsets_to_transaction(...) and commit_transaction().

`kafkalab lesson 10` runs this file twice. The first run is SIGKILLed halfway through a batch (the
crash switch below); the second resumes from the offsets your transactions committed. Then the
grader reads the labels back under read_committed and read_uncommitted, and your group's offsets.
"""

import time

from confluent_kafka import Consumer, KafkaException, Producer

from kafkalab.exercise import setup

lab = setup()
ORDERS = lab.topic("orders")
LABELS = lab.topic("labels")
END: int = lab.params["end_offset"]  # the orders' end offset: the loop stops there
CRASH_AFTER: int = lab.params["crash_after"]  # the grader's crash switch (0: no crash)
BATCH = 5  # orders per transaction

consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("labeller"),
        "auto.offset.reset": "earliest",
        # Offsets are committed by the transaction, never by the consumer on its own.
        "enable.auto.commit": False,
        # Skip the records of aborted transactions upstream. librdkafka's default, written out:
        # the Java consumer's default is read_uncommitted.
        "isolation.level": "read_committed",
        # A static member: the restarted process takes its partition back at once instead of
        # waiting for the killed one's session to time out (lesson 7).
        "group.instance.id": "labeller-1",
        "session.timeout.ms": 10000,
    }
)
producer = Producer(
    {
        **lab.config,
        # One name per processor instance, the same on every start: a restarted instance
        # fences its crashed predecessor and aborts the transaction it left open.
        # A transaction left open by a crash holds back read_committed readers of its
        # partitions until it ends: the coordinator aborts it after this long (default 60 s).
        "transaction.timeout.ms": 10000,
    }
)

consumer.subscribe([ORDERS])
produced = idle = 0
try:
    while idle < 10:  # ten empty polls in a row: the orders ran dry before END
        orders = [m for m in consumer.consume(BATCH, timeout=1) if not m.error()]
        if not orders:
            idle += 1
            continue
        idle = 0
        for message in orders:
            label = (message.value() or b"").upper()
            producer.produce(LABELS, key=message.key(), value=label)
            produced += 1
            if produced == CRASH_AFTER:
                # The grader's crash: flush() puts this half batch in the log, inside the open
                # transaction, and the process waits here to be SIGKILLed before it commits.
                producer.flush(10)
                time.sleep(60)
        producer.flush(10)
        consumer.commit(asynchronous=False)  # at least once: commit after the labels
        if orders[-1].offset() + 1 >= END:
            break  # the last order is labelled
except KafkaException as exc:
    # A failed batch: an abort marker discards its labels, its offsets stay uncommitted, and
    # the next start labels it again. (A fatal error, e.g. fenced by a newer instance, cannot
    # be aborted: just stop.)
    if exc.args[0].txn_requires_abort():
        producer.abort_transaction()
    raise
finally:
    producer.flush(10)  # deliver what is still queued (outside a transaction)
    consumer.close()
print(f"labelled {produced} orders")
