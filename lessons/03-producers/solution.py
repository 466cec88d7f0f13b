"""Lesson 3 exercise — a producer that knows its records were written (reference solution).

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
        "acks": "all",  # the broker answers once every in-sync replica has the record
        # Producer id + a sequence number per partition: the broker drops a batch it already
        # wrote, so a retry cannot duplicate or reorder (librdkafka's default is false).
        "enable.idempotence": True,
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
    while True:
        try:
            # produce() only puts the record in the local queue; a background thread sends it.
            producer.produce(TOPIC, key=key, value=f"{key}:{seq}", on_delivery=on_delivery)
            break
        except BufferError:
            # The queue is full: wait for reports (each one served frees a slot), then retry
            # this same record, so records of a key stay in order.
            producer.poll(1.0)
    producer.poll(0)  # serve the reports that are ready, without waiting

# flush() polls until every queued record has its report; it returns how many are still queued.
left = producer.flush(30)
if left:
    print(f"✘ {left} records still queued after 30 s: they will be lost")
print(
    f"{COUNT} records: {reports['delivered']} delivery reports ok, {reports['failed']} failed, "
    f"{dropped} dropped"
)
