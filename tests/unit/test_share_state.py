"""`readback.decode_share_record`: the share coordinator's records, as Kafka 4.3.1 wrote them
(bytes read from a real `__share_group_state`: group g3, a poison at offset 3)."""

from __future__ import annotations

from kafkalab.curriculum.readback import decode_share_record

TOPIC_ID = bytes.fromhex("42b8be0efc9a46c0b5816870d6504c0e")
KEY = "0002673342b8be0efc9a46c0b5816870d6504c0e00000000"  # "g3", the topic id, partition 0


def test_a_snapshot_names_its_group_and_start() -> None:
    value = bytes.fromhex(
        "0000000000000000000200000000ffffffffffffffff000001a24ec5cd00000001a24ec5cd000100"
    )
    assert decode_share_record(bytes.fromhex("0000" + KEY), value) == (
        "g3",
        TOPIC_ID,
        0,
        -1,
        [],
    )


def test_an_update_carries_each_batch_state_and_delivery_count() -> None:
    released = bytes.fromhex(
        "0000000000000000000000000000000000030200000000000000030000000000000003000001000100"
        "0400000000"
    )
    archived = bytes.fromhex(
        "0000000000000000000000000000000000030200000000000000030000000000000003040002000100"
        "0400000001"
    )
    key = bytes.fromhex("0001" + KEY)
    assert decode_share_record(key, released) == ("g3", TOPIC_ID, 0, 3, [(3, 3, 0, 1)])
    assert decode_share_record(key, archived) == ("g3", TOPIC_ID, 0, 3, [(3, 3, 4, 2)])


def test_a_tombstone_or_another_record_kind_is_skipped() -> None:
    assert decode_share_record(bytes.fromhex("0001" + KEY), None) is None
    assert decode_share_record(bytes.fromhex("0007" + KEY), b"\x00\x00") is None
