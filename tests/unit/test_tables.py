"""TopicTable's rules without a broker: what each record becomes, and the catch-up barrier.

The records here are plain stand-ins for confluent_kafka.Message and the serde a stand-in for
EventSerde: what is tested is the table's dispatch, not Kafka (tests/integration/test_tables.py
runs the same table against the real broker).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from kafkalab.events.serde import Event, UndecodableEvent
from kafkalab.services.tables import TopicTable, _topic_list
from tests.helpers import NOWHERE


class Record:
    def __init__(self, key: bytes | None, value: bytes | None, offset: int = 0) -> None:
        self._key, self._value, self._offset = key, value, offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return []

    def topic(self) -> str:
        return "users"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class Serde:
    """Decodes b"ok" into a UserProfile event; anything else is poison."""

    def __init__(self) -> None:
        self.decoded = 0

    def decode(self, msg: Record) -> Event:
        self.decoded += 1
        if msg.value() != b"ok":
            raise UndecodableEvent("not avro")
        return Event("users", 0, msg.offset(), "u1", "UserProfile", {"user_id": "u1"})


class Seen:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.tombstones: list[str] = []

    def table(self, tmp_path: Path, **kwargs: Any) -> TopicTable:
        return TopicTable(
            NOWHERE,
            "users",
            self.events.append,
            self.tombstones.append,
            **kwargs,
        )


def test_a_tombstone_deletes_by_key_and_is_not_an_event(tmp_path: Path) -> None:
    seen, serde = Seen(), Serde()
    table = seen.table(tmp_path)
    table._apply(serde, Record(b"u1", None))  # type: ignore[arg-type]
    assert seen.tombstones == ["u1"]
    assert seen.events == [] and serde.decoded == 0 and table.records == 0


def test_a_tombstone_is_ignored_without_a_tombstone_callback(tmp_path: Path) -> None:
    events: list[Event] = []
    table = TopicTable(NOWHERE, "users", events.append)
    table._apply(Serde(), Record(b"u1", None))  # type: ignore[arg-type]
    assert events == []


def test_unwanted_records_are_never_decoded(tmp_path: Path) -> None:
    seen, serde = Seen(), Serde()
    table = seen.table(tmp_path, wanted=lambda msg: False)
    table._apply(serde, Record(b"u1", b"ok"))  # type: ignore[arg-type]
    assert serde.decoded == 0 and seen.events == []


def test_a_decoded_record_is_handed_to_the_callback_and_counted(tmp_path: Path) -> None:
    seen = Seen()
    table = seen.table(tmp_path)
    table._apply(Serde(), Record(b"u1", b"ok", offset=7))  # type: ignore[arg-type]
    assert [(e.type, e.offset) for e in seen.events] == [("UserProfile", 7)]
    assert table.records == 1


def test_poison_and_a_failing_callback_are_skipped_not_raised(tmp_path: Path) -> None:
    seen = Seen()
    table = seen.table(tmp_path)
    table._apply(Serde(), Record(b"u1", b"poison"))  # type: ignore[arg-type]
    assert seen.events == [] and table.records == 0

    def broken(event: Event) -> None:
        raise KeyError("balance_cents")

    failing = TopicTable(NOWHERE, "users", broken)
    failing._apply(Serde(), Record(b"u1", b"ok"))  # type: ignore[arg-type]
    assert failing.records == 1  # decoded, handed over, and the table carries on


def test_sync_holds_until_every_partition_reached_its_end(tmp_path: Path) -> None:
    table = Seen().table(tmp_path)
    ends = [TopicPartition("users", 0, 5), TopicPartition("users", 1, 2)]
    assert table.sync([], 0)  # nothing to wait for
    table._advance({("users", 0): 5})
    assert not table.sync(ends, 0)  # partition 1 still behind

    released = threading.Event()

    def wait() -> None:
        if table.sync(ends, 60):
            released.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    table._advance({("users", 1): 2})
    waiter.join(60)
    assert released.is_set()


def test_positions_never_go_back(tmp_path: Path) -> None:
    table = Seen().table(tmp_path)
    table._advance({("users", 0): 9})
    table._advance({("users", 0): 4})  # e.g. a batch reporting an older position
    assert table.sync([TopicPartition("users", 0, 9)], 0)


def test_stopping_a_table_that_never_started_is_harmless(tmp_path: Path) -> None:
    table = Seen().table(tmp_path)
    table.stop()
    assert not table.alive and not table.loaded.is_set()


@pytest.mark.parametrize(
    ("topics", "expected"),
    [("users", ["users"]), (["a", "b"], ["a", "b"]), (("a",), ["a"])],
)
def test_one_topic_name_is_not_a_sequence_of_letters(
    topics: str | list[str] | tuple[str], expected: list[str]
) -> None:
    assert _topic_list(topics) == expected
