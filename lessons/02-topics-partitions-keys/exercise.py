"""Lesson 2 exercise — where does a key go?

Goal: the producer, not the broker, picks a record's partition. (1) Complete `partition_for` so
it computes the partition Kafka's Java producer picks for a key: murmur2 of the key's bytes,
made positive, modulo the partition count. (2) Configure the confluent-kafka producer so that
its own partitioner puts each key where the Java client would.

`kafkalab lesson 2` runs this file, then reads both topics back and compares every key's
partition with where a Java-compatible producer (kafka-python's) put the same key.
"""

from confluent_kafka import Producer
from kafka.partitioner.default import murmur2  # the Java client's hash, as kafka-python ships it

from kafkalab.exercise import setup

lab = setup()
KEYS: list[str] = lab.params["keys"]
PARTITIONS: int = lab.params["partitions"]


def partition_for(key: str, partitions: int) -> int:
    """The partition the Java producer's default partitioner picks for `key`."""
    # TODO: hash the key's bytes with murmur2, clear the sign bit (& 0x7FFFFFFF), then take the
    #       remainder by the partition count. Mind the parentheses.
    return 0


producer = Producer(
    {
        **lab.config,
        # TODO: confluent-kafka's default partitioner is `consistent_random` (CRC32 of the key).
        #       Set "partitioner" to the librdkafka value that hashes keys like the Java client.
    }
)

for key in KEYS:
    for seq in range(3):
        value = f"{key}:{seq}".encode()
        # Your function decides: the partition is given explicitly.
        producer.produce(
            lab.topic("computed"), key=key, value=value, partition=partition_for(key, PARTITIONS)
        )
        # The producer's partitioner decides: no partition given.
        producer.produce(lab.topic("hashed"), key=key, value=value)

producer.flush(30)  # waits for every delivery report: the records are on the broker after this
print(f"sent {len(KEYS) * 3} records to each topic")
