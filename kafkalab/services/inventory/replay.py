"""Read topics from the beginning to their current end, once: how inventory rebuilds its memory.

A plain assign()-only consumer (it joins no group and commits nothing) with
`enable.partition.eof`, so "the end" is known exactly instead of guessed with a timeout. The
consumer is read_committed (the kafkalab default): for a transactional writer the end is the
last stable offset, so records of a transaction still open — or of one a crashed process left
behind — are never mistaken for history.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from kafkalab import clients
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.service")


def read_to_end(
    settings: Settings, serde: EventSerde, topics: list[str], timeout: float = 60.0
) -> list[Event]:
    """Every decodable event of `topics`, in offset order per partition.

    Raises KafkalabError when a topic does not exist or its end is not reached in `timeout`
    seconds. Undecodable records and tombstones are skipped (logged): they carry no state.
    """
    consumer = clients.consumer(
        settings,
        "kafkalab-inventory-replay",  # required by librdkafka; assign() never joins it
        **{"enable.auto.commit": False, "enable.partition.eof": True},
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions: list[TopicPartition] = []
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise KafkalabError(
                    f"topic {topic} does not exist", hint="create the topic catalogue first"
                )
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions]
        consumer.assign(partitions)
        pending = {(p.topic, p.partition) for p in partitions}
        events: list[Event] = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise KafkalabError(
                    f"could not read {', '.join(topics)} to the end in {timeout:.0f} s"
                )
            for msg in consumer.consume(500, timeout=0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard((msg.topic(), msg.partition()))
                    else:
                        log.warning("replay consumer error: %s", error)
                    continue
                if msg.value() is None:
                    continue
                try:
                    events.append(serde.decode(msg))
                except UndecodableEvent as exc:
                    log.warning("skipping an undecodable record in %s: %s", msg.topic(), exc)
        return events
    finally:
        consumer.close()
