"""Consumer lag per group and partition (no shell-out): committed offsets through a consumer of
each group (`observe/committed.py`), end offsets from the AdminClient."""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.observe.committed import committed


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - max(self.committed, 0), 0)


@dataclass
class GroupLag:
    group: str
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)


def group_lag(conn: Connection, groups: list[str], timeout: float = 10.0) -> list[GroupLag]:
    """Committed offset, end offset and lag of every partition each group has committed on."""
    admin = clients.admin(conn)
    result = []
    for group in groups:
        offsets = _committed(conn, group, timeout)
        ends = _end_offsets(admin, offsets, timeout)
        result.append(
            GroupLag(
                group,
                [
                    PartitionLag(
                        tp.topic, tp.partition, tp.offset, ends.get((tp.topic, tp.partition), 0)
                    )
                    for tp in sorted(offsets, key=lambda t: (t.topic, t.partition))
                ],
            )
        )
    return result


def _committed(conn: Connection, group: str, timeout: float) -> list[TopicPartition]:
    """Through a consumer of the group, not the admin client: `observe/committed.py` says why
    (an admin OffsetFetch crashes the process while the group's coordinator moves)."""
    try:
        return committed(conn, group, timeout=timeout)
    except KafkaException:  # the cluster did not answer in time: no lag known for now
        return []


def _end_offsets(
    admin: AdminClient, partitions: list[TopicPartition], timeout: float
) -> dict[tuple[str, int], int]:
    if not partitions:
        return {}
    request = {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in partitions}
    # Read-committed end offsets (the last stable offset): the high watermark unless a transaction
    # is open, whose records a read_committed group cannot read yet and so are not lag.
    futures = admin.list_offsets(
        request, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout
    )
    ends = {}
    for tp, future in futures.items():
        try:
            ends[(tp.topic, tp.partition)] = future.result(timeout=timeout).offset
        except Exception:  # noqa: BLE001
            continue
    return ends
