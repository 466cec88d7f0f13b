"""Lesson 2: keyed records land on the partition murmur2(key) picks, and keep their order there."""

from __future__ import annotations

from kafka.partitioner.default import murmur2  # the Java client's hash, as kafka-python ships it

from kafkalab.curriculum.lab import Lab

from .check import Landed, Seen

PARTITIONS = 6
KEYS = [f"user-{n}" for n in range(1, 13)]
PER_KEY = 20


def partition_for(key: str, partitions: int) -> int:
    # Kafka's default partitioner: murmur2 of the key bytes, made positive, modulo the count.
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def demo(lab: Lab) -> Seen:
    topic = lab.topic("clicks", partitions=PARTITIONS)
    lab.say(f"Created {topic} with {PARTITIONS} partitions.")
    computed = {key: partition_for(key, PARTITIONS) for key in KEYS}
    lab.table("where murmur2 says each key goes", ["key", "partition"], sorted(computed.items()))

    # confluent-kafka's default partitioner is consistent_random (CRC32); murmur2_random is the
    # Java client's, so records keyed here land where a Java producer would put them.
    producer = lab.producer(partitioner="murmur2_random")
    lab.say(f"Producing {PER_KEY} records for each of {len(KEYS)} keys, interleaved.")
    for seq in range(PER_KEY):
        for key in KEYS:
            producer.produce(topic, key=key, value=str(seq).encode())
    producer.flush(30)  # flush() waits for every delivery report

    lab.say("Reading everything back and noting the partition and offset of each record.")
    consumer = lab.consumer(lab.group("reader"))
    consumer.subscribe([topic])
    landed: list[Landed] = []
    try:
        while len(landed) < PER_KEY * len(KEYS):
            message = consumer.poll(10)
            if message is None:
                break  # nothing for 10 s: the check will say what is missing
            if message.error():
                continue
            key = (message.key() or b"").decode()
            value = int((message.value() or b"-1").decode())
            landed.append(Landed(key, value, message.partition(), message.offset()))
    finally:
        consumer.close()  # leaves the group at once instead of after the session timeout

    per_partition: dict[int, list[str]] = {}
    for record in landed:
        keys = per_partition.setdefault(record.partition, [])
        if record.key not in keys:
            keys.append(record.key)
    lab.table(
        "where they landed (the partitioner chose, the broker appended)",
        ["partition", "keys"],
        [[p, ", ".join(k)] for p, k in sorted(per_partition.items())],
    )
    return Seen(partitions=PARTITIONS, sent=PER_KEY * len(KEYS), landed=landed, computed=computed)
