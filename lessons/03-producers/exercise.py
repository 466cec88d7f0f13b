"""Lesson 3 exercise — a producer that knows its records were written.

Goal: this program produces keyed records and asks for a delivery report on each, but it never
serves those reports: a record the full queue refuses is dropped, and records still queued when
it ends are lost. Make every record reach the topic exactly once, in order per key: serve delivery
reports with poll() as you produce (and produce a refused record again), flush() before the end,
and configure the producer so the broker answers once every in-sync replica has a record and
drops a batch that a retry sends twice.

`kafkalab lesson 3` runs this file, then reads the topic back to count every record, and asks the
broker which producer ids it holds for the topic's partitions.
"""

from confluent_kafka import KafkaError, Message, Producer

from kafkalab.exercise import setup

lab = setup()
TOPIC = lab.topic("payments")
KEYS: list[str] = lab.params["keys"]
COUNT: int = lab.params["count"]

producer = Producer(
    {
        **lab.config,
        # A small local queue, so this run shows what a full one does: produce() raises
        # BufferError while this many records wait for their delivery reports to be served.
        "queue.buffering.max.messages": lab.params["queue"],
        # Batching: a partition's batch is sent once it holds 50 records, or once its oldest
        # record has waited 5 s (linger.ms), whichever comes first.
        "batch.num.messages": 50,
        "linger.ms": 5000,
        # TODO: durability. Make the broker answer only once every in-sync replica has the
        #       record, and let it drop a batch a retry sends twice.
    }
)

reports = {"delivered": 0, "failed": 0}
dropped = 0  # records the full queue refused and this program gave up on


def on_delivery(error: KafkaError | None, message: Message) -> None:
    """The broker's answer for one record. librdkafka calls it from inside poll() or flush()."""
    if error is not None:
        reports["failed"] += 1
        print(f"✘ {message.key()!r} was not written: {error}")
    else:
        reports["delivered"] += 1


for seq in range(COUNT):
    key = KEYS[seq % len(KEYS)]
    try:
        # produce() only puts the record in the local queue; a background thread sends it.
        producer.produce(TOPIC, key=key, value=f"{key}:{seq}", on_delivery=on_delivery)
    except BufferError:
        # TODO: the queue is full and this record was NOT queued. Serve delivery reports (that
        #       frees their room), then produce this same record again before going on.
        dropped += 1
    # TODO: serve the delivery reports that are ready, without waiting.

# TODO: before the program ends, wait until every queued record has its delivery report.
print(
    f"{COUNT} records: {reports['delivered']} delivery reports ok, {reports['failed']} failed, "
    f"{dropped} dropped"
)
