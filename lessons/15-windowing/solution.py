"""Lesson 15 exercise — a grace period for late clicks. (reference solution)

Goal: count the clicks on `clicks` per shop in 10 s tumbling windows, one result per window
when it closes, to `clicks-per-10s`. Clicks arrive out of order: one that comes in up to 5 s
after its window's end (in stream time) is normal and must still count; one that comes in more
than 20 s after its window's end is stale and must be counted nowhere. Choose GRACE_MS so both
hold.

`kafkalab lesson 15` seeds clicks with chosen event times (a late one and a stale one among
them), runs this file, then reads `clicks-per-10s` back from the broker and compares every
window with the counts it computed itself.
"""

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig

from kafkalab.exercise import setup

lab = setup()
WINDOW_MS = 10_000  # tumbling windows [0 s, 10 s), [10 s, 20 s), … on the epoch
# A window stays open until stream time reaches its end + GRACE_MS: later than 5 s must still
# count, later than 20 s must not: anything above 5 s, up to 20 s, does both.
GRACE_MS = 10_000

app = Application(
    broker_address=ConnectionConfig.from_librdkafka_dict(lab.config),
    consumer_group=lab.group("clicks"),
    auto_offset_reset="earliest",
    state_dir=lab.params["state_dir"],  # the windows' state store (RocksDB) lives here
    consumer_extra_config={"fetch.wait.max.ms": 100},  # a quick start on a few records
    loglevel="WARNING",  # a dropped late record is logged as a warning
)
clicks = app.topic(lab.topic("clicks"), key_deserializer="str", value_deserializer="json")
counts = app.topic(lab.topic("clicks-per-10s"), key_serializer="str", value_serializer="json")

sdf = app.dataframe(clicks)
# Event time is the record's timestamp; stream time is the highest one seen for the key.
sdf = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=GRACE_MS).count()
# .final(): one result per window, {"start", "end", "value"}, once stream time passes its end
# plus the grace; a click for a window closed by then is dropped.
sdf = sdf.final()
sdf.to_topic(counts)  # keyed by the shop, like the clicks

app.run(timeout=2)  # stop once no new click came for 2 s
