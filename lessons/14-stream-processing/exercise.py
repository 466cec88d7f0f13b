"""Lesson 14 exercise — a stream processor, topic to topic.

Goal: `orders` holds JSON orders keyed by user id. Complete the StreamingDataFrame so the app
keeps only the orders of at least THRESHOLD_CENTS, writes each one to `big-orders` as exactly
`{"order_id", "user_id", "total_eur", "items"}` (total_cents / 100, and the number of items
instead of the list), and keeps every record's key, so a user's orders stay in order.

`kafkalab lesson 14` seeds `orders`, runs this file, then reads `big-orders` and your group's
committed offsets back from the broker and compares them with what it computed from `orders`.
"""

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig

from kafkalab.exercise import setup

lab = setup()
THRESHOLD_CENTS: int = lab.params["threshold_cents"]  # keep orders of this total and more

app = Application(
    broker_address=ConnectionConfig.from_librdkafka_dict(lab.config),
    consumer_group=lab.group("big-orders"),  # the group whose offsets say how far the app got
    auto_offset_reset="earliest",  # the orders were produced before the app started
    state_dir=lab.params["state_dir"],  # quixstreams' local state, outside your lesson folder
    consumer_extra_config={"fetch.wait.max.ms": 100},  # a quick start on a few records
    loglevel="WARNING",
)
orders = app.topic(lab.topic("orders"), key_deserializer="str", value_deserializer="json")
big_orders = app.topic(lab.topic("big-orders"), key_serializer="str", value_serializer="json")

# Declared once, run for every record: `sdf` is a pipeline, not a table.
sdf = app.dataframe(orders)
# TODO: the steps between reading and writing. Keep only the orders of THRESHOLD_CENTS and
#       more (a filter), add total_eur (total_cents / 100), replace the item list by its length,
#       and keep just order_id, user_id, total_eur and items. As it stands, every order is
#       copied unchanged.
sdf.to_topic(big_orders)  # the record keeps its key: same user, same partition

# Stop once no new record came for 2 s; closing commits the offsets the app has processed.
app.run(timeout=2)
