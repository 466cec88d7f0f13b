"""Lesson 4's check: a commit is where a restart resumes, and a replay re-reads exactly what it
should — everything from the beginning, only the later records from a timestamp."""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect


@dataclass
class Seen:
    produced: int  # records written, sequence numbers 0 … produced-1
    later: list[int]  # the sequence numbers stamped at or after the replay timestamp
    first_run: list[int]  # what the first consumer processed before it committed and left
    committed: int  # the group's committed offsets, summed over the partitions
    resumed: list[int]  # what the same group read after the restart
    from_beginning: list[int]  # replay from offset 0
    from_timestamp: list[int]  # replay from offsets_for_times(timestamp)


def check(seen: Seen) -> list[Check]:
    everything = set(range(seen.produced))
    overlap = set(seen.first_run) & set(seen.resumed)
    together = set(seen.first_run) | set(seen.resumed)
    return [
        equal("commit = records processed", len(seen.first_run), seen.committed),
        expect(
            "restart resumes after the commit",
            0 < len(seen.first_run) < seen.produced
            and not overlap
            and together == everything
            and len(seen.resumed) == seen.produced - len(seen.first_run),
            f"{len(seen.resumed)} read after the restart, {len(overlap)} of them read twice, "
            f"{len(everything - together)} never read",
        ),
        expect(
            "replay from the beginning re-reads all",
            sorted(seen.from_beginning) == sorted(everything),
            f"{len(seen.from_beginning)} re-read ({len(set(seen.from_beginning))} distinct) "
            f"of {seen.produced}",
        ),
        expect(
            "replay from a timestamp re-reads exactly the later records",
            bool(seen.later) and sorted(seen.from_timestamp) == sorted(seen.later),
            f"{len(seen.from_timestamp)} re-read, {len(seen.later)} stamped after the timestamp",
        ),
    ]
