"""Lesson 17 exercise — the reader behind a dashboard panel.

Goal: `analytics` holds what the analytics service wrote: a window's latest value each second
it changed, keyed by metric, several per minute, and some of them in transactions that were then
aborted. Finish the panel's reader so that it reads only committed records and keeps, for each
minute, the latest orders_count and revenue_cents; the file then publishes one row per minute to
the compacted `panel` topic.

`kafkalab lesson 17` seeds `analytics`, runs this file, then reads `panel` back from the broker
and compares each row with the figures it works out from `analytics` itself.
"""

import json

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from kafkalab.exercise import setup

lab = setup()
SOURCE = lab.topic("analytics")
PANEL = lab.topic("panel")
METRICS = ("orders_count", "revenue_cents")  # the panel's two columns
WINDOW = "tumbling-60s"  # one row per minute

consumer = Consumer(
    {
        **lab.config,
        "group.id": lab.group("panel"),  # librdkafka wants one; assign() never joins the group
        "enable.auto.commit": False,  # no offsets kept: the panel is rebuilt from the start
        "enable.partition.eof": True,  # say "end of partition", so the loop knows it is done
        "fetch.wait.max.ms": 100,  # an empty fetch (the end) comes back after 100 ms, not 500
        # TODO: this returns every record in the log, those of aborted transactions too (what a
        #       Java consumer does by default). Which isolation.level returns committed ones only?
        "isolation.level": "read_uncommitted",
    }
)

panel: dict[int, dict[str, float]] = {}  # window_start → that minute's row, {metric: value}


def keep(update: dict) -> None:
    """Record one update of the panel's metrics in `panel`.

    `update` is an AnalyticsWindow: {"metric", "window", "window_start", "window_end", "value",
    "count"}. Analytics writes a window again each second it changed (quixstreams' `.current()`,
    written at each checkpoint), so each minute has several updates of each metric.
    """
    # TODO: put this update into its minute's row (create the row if it is the minute's first).
    #       Which of a minute's updates should the row end up showing?


partitions = sorted(consumer.list_topics(SOURCE, timeout=10).topics[SOURCE].partitions)
# assign(), not subscribe(): every partition from its first offset, no group, no rebalance —
# the way `kafkalab dashboard` reads the analytics topic.
consumer.assign([TopicPartition(SOURCE, p, OFFSET_BEGINNING) for p in partitions])
ended: set[int] = set()
read = 0
try:
    while ended != set(partitions):
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        error = msg.error()
        if error is not None and error.code() == KafkaError._PARTITION_EOF:
            ended.add(msg.partition())
            continue
        if error is not None:
            raise KafkaException(error)
        read += 1
        # A metric is a key, so all its updates sit on one partition, and poll() returns a
        # partition's records in offset order: the order analytics wrote them in.
        update = json.loads(msg.value())
        if update["metric"] in METRICS and update["window"] == WINDOW:
            keep(update)
finally:
    consumer.close()

# One row per minute, keyed by its window's start. `panel` is compacted, a table: its log
# cleaner drops a key's older records in time, so rebuilding the panel never piles up rows.
producer = Producer({**lab.config, "enable.idempotence": True})
for start, row in sorted(panel.items()):
    value = json.dumps({"window_start": start, **row}).encode()
    producer.produce(PANEL, key=str(start).encode(), value=value)
producer.flush(30)
print(f"read {read} records of {SOURCE}; published {len(panel)} rows to {PANEL}")
