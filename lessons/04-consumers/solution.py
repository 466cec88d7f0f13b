"""Lesson 4 exercise — commit after processing, then replay from a point in time (reference solution).

Goal: (1) Finish the `billing` group's consumer: it processes each record of `payments` by
copying it to `processed`, and must commit a record's offset only once its copy is safely on the
broker, so that a crash neither loses a record nor repeats a finished one. (2) Then replay
`payments` into `replayed` from the timestamp REPLAY_FROM: ask offsets_for_times() where that
time falls in each partition, and start reading there.

`kafkalab lesson 4` runs this file twice: the first run crashes halfway through a record (the
process dies: no close(), no flush(), no commit), the second is the restart. Then it reads
`processed`, `replayed` and the group's committed offsets back from the broker.
"""

import os

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from kafkalab.exercise import setup

lab = setup()
PAYMENTS, PROCESSED, REPLAYED = (lab.topic(n) for n in ("payments", "processed", "replayed"))
REPLAY_FROM: int = lab.params["replay_from"]  # a timestamp, in ms since the epoch
CRASH_AT: int | None = lab.params["crash_at"]  # set for the grader's first run only

# produce() queues a copy; it reaches the broker within linger.ms, or at once on flush().
producer = Producer({**lab.config, "enable.idempotence": True, "linger.ms": 100})
processed = 0


def process(message: Message) -> None:
    """Processing = copying the record to `processed` (a real service would compute here)."""
    global processed
    processed += 1
    if processed == CRASH_AT:
        # The grader's simulated crash: the process dies halfway through this record, as if
        # killed. Nothing is closed, flushed or committed.
        where = f"partition {message.partition()}, offset {message.offset()}"
        print(f"simulated crash while processing record {processed} ({where})", flush=True)
        os._exit(lab.params["crash_status"])
    producer.produce(PROCESSED, key=message.key(), value=message.value())


def at_end(consumer: Consumer, ended: set[int]) -> bool:
    """True once every assigned partition has reported that it reached its end."""
    assigned = {tp.partition for tp in consumer.assignment()}
    return bool(assigned) and assigned <= ended


# --- (1) the group's poll loop -------------------------------------------------------------
consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("billing"),  # the group whose committed offsets a restart uses
        # A static member: restarted after a crash, it gets its partitions back at once instead
        # of waiting session.timeout.ms for the broker to give up on the crashed member.
        "group.instance.id": "billing-1",
        "enable.partition.eof": True,  # say "end of partition", so this program can stop
        "fetch.wait.max.ms": 100,  # an empty fetch (the end) comes back after 100 ms, not 500
        # A new group (no committed offset yet) starts at the beginning, not at the end.
        "auto.offset.reset": "earliest",
        # This program commits, after processing; the background auto-commit would commit
        # whatever poll() returned, processed or not.
        "enable.auto.commit": False,
    }
)
consumer.subscribe([PAYMENTS])
ended: set[int] = set()
try:
    while not at_end(consumer, ended):
        # poll() hands over the next record (a background thread fetched it ahead) and runs
        # rebalances. Heartbeats go from a background thread too, but a member that does not
        # poll within max.poll.interval.ms (5 min) is taken out of the group.
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition())
            continue
        ended.discard(message.partition())
        process(message)
        producer.flush(10)  # the copy is on the broker now (acks=all): safe to commit
        # Commits offset + 1, the next record to read; synchronous, so it is stored on the
        # broker before the next record is processed.
        consumer.commit(message=message, asynchronous=False)
finally:
    consumer.close()
print(f"processed {processed} records")

# --- (2) replay from a point in time -------------------------------------------------------
# assign() reads chosen partitions from chosen offsets: no group membership, no rebalance, and
# (with auto-commit off) no commit. librdkafka still wants a group.id.
replay = Consumer(
    {
        **lab.config,
        "group.id": lab.group("replay"),
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
    }
)
partitions = sorted(replay.list_topics(PAYMENTS, timeout=10).topics[PAYMENTS].partitions)
# Per partition: the first offset whose timestamp is at or after REPLAY_FROM, or -1 (the end)
# when no record is that recent: assign() then starts there with nothing to read.
starts = replay.offsets_for_times(
    [TopicPartition(PAYMENTS, p, REPLAY_FROM) for p in partitions], timeout=10
)
replay.assign(starts)
ended = set()
replayed = 0
while not at_end(replay, ended):
    message = replay.poll(1.0)
    if message is None:
        continue
    if message.error():
        if message.error().code() == KafkaError._PARTITION_EOF:
            ended.add(message.partition())
        continue
    ended.discard(message.partition())
    producer.produce(REPLAYED, key=message.key(), value=message.value())
    replayed += 1
replay.close()
producer.flush(30)
print(f"replayed {replayed} records")
