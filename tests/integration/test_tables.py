"""kafkalab.services.tables on the real broker: tables and one-off reads outside any group.

Every test writes to topics of its own, so what a table holds is exactly what the test wrote.
"No more records" is never waited for with a sleep: a table's `loaded`/`sync` or `read_to_end`
reach the partitions' ends, which is the claim under test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Message, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.events.serde import HEADER_TYPE, Event, EventSerde
from kafkalab.services.tables import TopicTable, read_to_end
from kafkalab.settings import Settings

pytestmark = pytest.mark.integration

WAIT = 30.0  # an upper bound for a broker round trip, never a timing under test


class Users:
    """What a service keeps of the `users` table: profiles by id, tombstones delete."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self.lock:
            self.profiles[str(event.value["user_id"])] = event.value

    def on_tombstone(self, user_id: str) -> None:
        with self.lock:
            self.profiles.pop(user_id, None)

    def ids(self) -> set[str]:
        with self.lock:
            return set(self.profiles)


class Writer:
    """Writes UserProfile events (or tombstones, or junk) to a test topic, partition by choice."""

    def __init__(self, conn: Connection, topic: str, **conf: Any) -> None:
        self.topic = topic
        self.serde = EventSerde(conn)
        self.producer: Producer = clients.producer(conn, **conf)

    def profile(self, user_id: str, partition: int = 0, record_type: str = "UserProfile") -> None:
        value = {
            "user_id": user_id,
            "email": f"{user_id}@example.com",
            "name": user_id,
            "phone": None,
            "balance_cents": 10_000,
            "registered_at": 1_700_000_000_000,
        }
        full, headers = self.serde.envelope("UserProfile", value, "test")
        if record_type != "UserProfile":  # same Avro record, another event_type header
            headers = [(k, record_type.encode() if k == HEADER_TYPE else v) for k, v in headers]
        data = self.serde.serialize(self.topic, "UserProfile", full)
        self.producer.produce(
            self.topic, key=user_id.encode(), value=data, headers=headers, partition=partition
        )

    def tombstone(self, user_id: str, partition: int = 0) -> None:
        self.producer.produce(self.topic, key=user_id.encode(), value=None, partition=partition)

    def junk(self, partition: int = 0) -> None:
        self.producer.produce(self.topic, key=b"junk", value=b"not avro", partition=partition)

    def flush(self) -> None:
        assert self.producer.flush(WAIT) == 0


@pytest.fixture
def new_topic(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> Callable[..., str]:
    def create(partitions: int = 3) -> str:
        name = unique("table")
        admin = clients.admin(conn)
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(WAIT)
        return name

    return create


Start = Callable[..., TopicTable]


@pytest.fixture
def start() -> Iterator[Start]:
    """`start(table, offsets=())` starts a table; all are stopped at the end, even on failure."""
    started: list[TopicTable] = []

    def run(table: TopicTable, offsets: list[TopicPartition] | None = None) -> TopicTable:
        started.append(table)
        table.start(offsets or ())
        return table

    yield run
    for table in started:
        table.stop()


def high_watermarks(conn: Connection, topic: str, partitions: int) -> list[TopicPartition]:
    """What a writer just wrote, looked up the way payment does: with a client of its own."""
    consumer = clients.consumer(conn, "test-watermarks")
    try:
        return [
            TopicPartition(
                topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), WAIT)[1]
            )
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def users_table(conn: Connection, topic: str, users: Users, **kwargs: Any) -> TopicTable:
    return TopicTable(conn, topic, users.on_event, users.on_tombstone, name="test-users", **kwargs)


def test_a_table_reads_every_partition_and_tombstones_delete(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    topic = new_topic(3)
    writer = Writer(conn, topic)
    for i, user in enumerate(["ann", "bob", "cid", "dee"]):
        writer.profile(user, partition=i % 3)
    writer.tombstone("bob", partition=1)
    writer.flush()

    users = Users()
    table = start(users_table(conn, topic, users))

    assert table.wait_loaded(WAIT)
    assert users.ids() == {"ann", "cid", "dee"}
    assert table.records == 4  # decoded events; the tombstone is not one


def test_a_table_waits_for_its_topic_to_be_created(
    conn: Connection, cluster: Settings, unique: Callable[[str], str], start: Start
) -> None:
    topic = unique("table-later")
    users = Users()
    table = start(users_table(conn, topic, users))
    assert not table.loaded.is_set()

    admin = clients.admin(conn)  # kept in a name: a collected client cancels its futures
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(WAIT)
    writer = Writer(conn, topic)
    writer.profile("eve")
    writer.flush()

    assert table.sync(high_watermarks(conn, topic, 1), WAIT)
    assert users.ids() == {"eve"}
    assert table.wait_loaded(WAIT)


def test_sync_is_a_read_your_writes_barrier(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    topic = new_topic(3)
    users = Users()
    table = start(users_table(conn, topic, users))
    assert table.wait_loaded(WAIT)  # an empty topic is loaded too

    writer = Writer(conn, topic)
    writer.profile("fay", partition=2)
    writer.flush()
    ends = high_watermarks(conn, topic, 3)

    assert table.sync(ends, WAIT)
    assert users.ids() == {"fay"}  # handed to the callback before sync returned
    beyond = [TopicPartition(topic, 2, ends[2].offset + 1)]
    assert not table.sync(beyond, 0)  # nothing there yet: `timeout=0` only asks


def test_tables_and_replays_read_committed_only(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    """An aborted transaction is never read, and an open one neither — nor does it hold up
    `loaded`: the end of a partition is its last stable offset."""
    topic = new_topic(1)
    writer = Writer(conn, topic, **{"transactional.id": f"test-{uuid.uuid4().hex}"})
    writer.producer.init_transactions(WAIT)
    writer.producer.begin_transaction()
    writer.profile("kept")
    writer.producer.commit_transaction(WAIT)
    writer.producer.begin_transaction()
    writer.profile("aborted")
    writer.producer.abort_transaction(WAIT)
    writer.producer.begin_transaction()
    writer.profile("open")
    writer.producer.flush(WAIT)  # on the log, but not committed

    users = Users()
    table = start(users_table(conn, topic, users))
    try:
        assert table.wait_loaded(WAIT)
        assert users.ids() == {"kept"}
        replay = read_to_end(conn, EventSerde(conn), topic, timeout=WAIT)
        assert [e.value["user_id"] for e in replay] == ["kept"]
    finally:
        writer.producer.abort_transaction(WAIT)

    writer.producer.begin_transaction()
    writer.profile("later")
    writer.producer.commit_transaction(WAIT)
    # The ends include aborted records and transaction markers: sync must count them as read.
    assert table.sync(high_watermarks(conn, topic, 1), WAIT)
    assert users.ids() == {"kept", "later"}


def test_wanted_filters_records_before_they_are_decoded(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    topic = new_topic(1)
    writer = Writer(conn, topic)
    writer.profile("wanted")
    writer.profile("unwanted", record_type="SomethingElse")
    writer.flush()

    def is_profile(msg: Message) -> bool:
        return (HEADER_TYPE, b"UserProfile") in (msg.headers() or [])

    users = Users()
    table = start(users_table(conn, topic, users, wanted=is_profile))

    assert table.wait_loaded(WAIT)
    assert users.ids() == {"wanted"}
    assert table.records == 1


def test_a_failing_callback_or_poison_does_not_stop_the_table(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    topic = new_topic(1)
    writer = Writer(conn, topic)
    writer.profile("bad")
    writer.junk()
    writer.profile("good")
    writer.flush()

    users = Users()

    def on_event(event: Event) -> None:
        if event.value["user_id"] == "bad":
            raise ValueError("a callback bug")
        users.on_event(event)

    table = start(TopicTable(conn, topic, on_event, name="test-failing"))

    assert table.wait_loaded(WAIT)
    assert table.alive
    assert users.ids() == {"good"}


def test_a_table_started_at_its_ends_reads_only_what_comes_next(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], start: Start
) -> None:
    """How the order feed follows `inventory-replies`: the ends are fixed before start()
    returns, so a record written right after is read, and none from before."""
    old, new = new_topic(2), new_topic(2)
    writer = Writer(conn, old)
    writer.profile("before", partition=1)
    writer.flush()

    users = Users()
    table = TopicTable(conn, [old, new], users.on_event, name="test-follow")
    ends = table.ends(old)
    start(table, ends)
    assert [(tp.partition, tp.offset) for tp in ends] == [(0, 0), (1, 1)]

    writer.profile("after", partition=0)
    writer.flush()
    other = Writer(conn, new)
    other.profile("from-the-beginning", partition=1)
    other.flush()

    assert table.sync(high_watermarks(conn, old, 2) + high_watermarks(conn, new, 2), WAIT)
    assert users.ids() == {"after", "from-the-beginning"}


def test_ends_of_a_missing_topic_is_one_clear_error(
    conn: Connection, cluster: Settings, unique: Callable[[str], str]
) -> None:
    missing = unique("no-such-topic")
    table = TopicTable(conn, missing, lambda e: None, name="test-missing")
    try:
        with pytest.raises(KafkalabError, match=f"topic {missing} does not exist"):
            table.ends(missing)
    finally:
        table.stop()  # never started: closes its client


def test_read_to_end_returns_every_event_of_every_topic_once(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str]
) -> None:
    first, second = new_topic(2), new_topic(1)
    writer = Writer(conn, first)
    for i in range(6):
        writer.profile(f"u{i}", partition=i % 2)
    writer.tombstone("u0", partition=0)
    writer.junk(partition=1)
    writer.flush()
    other = Writer(conn, second)
    other.profile("v0")
    other.flush()

    events = read_to_end(conn, EventSerde(conn), [first, second], timeout=WAIT)

    by_partition: dict[tuple[str, int], list[str]] = {}
    for event in events:
        by_partition.setdefault((event.topic, event.partition), []).append(event.value["user_id"])
    assert by_partition == {
        (first, 0): ["u0", "u2", "u4"],  # offset order; the tombstone carries no event
        (first, 1): ["u1", "u3", "u5"],  # the undecodable record is skipped
        (second, 0): ["v0"],
    }


def test_read_to_end_of_a_missing_topic_is_one_clear_error(
    conn: Connection, cluster: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    missing = unique("no-such-topic")
    with pytest.raises(KafkalabError, match=f"topic {missing} does not exist"):
        read_to_end(conn, EventSerde(conn), [new_topic(1), missing], timeout=WAIT)
