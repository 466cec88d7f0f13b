"""Lesson 10's check: the killed transaction's payments were in the log yet never reached a
read_committed reader; after the restart it sees every payment exactly once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect


@dataclass
class Seen:
    orders: list[str]  # the order ids written to the input topic
    killed_exit: int | None  # exit status of the processor killed mid-transaction (-9 = SIGKILL)
    restarted_exit: int | None  # exit status of the processor that took over
    open_committed: list[str]  # output read_committed saw while the transaction hung open
    open_uncommitted: list[str]  # output read_uncommitted saw then
    final_committed: list[str]  # output read_committed sees at the end
    final_uncommitted: list[str]  # output read_uncommitted sees at the end


def repeated(orders: list[str]) -> list[str]:
    return sorted(order for order, n in Counter(orders).items() if n > 1)


def check(seen: Seen) -> list[Check]:
    in_flight = sorted(set(seen.open_uncommitted) - set(seen.open_committed))
    missing = sorted(set(seen.orders) - set(seen.final_committed))
    return [
        equal("the first processor was killed (SIGKILL)", -9, seen.killed_exit),
        expect(
            "the open transaction's payments were in the log",
            bool(in_flight),
            f"read_uncommitted saw {len(seen.open_uncommitted)}, "
            f"read_committed {len(seen.open_committed)}: {len(in_flight)} in flight",
        ),
        equal("the restarted processor finished", 0, seen.restarted_exit),
        expect(
            "read_committed sees each payment once",
            not missing and not repeated(seen.final_committed),
            f"{len(seen.final_committed)} payments for {len(seen.orders)} orders"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (
                f"; twice {', '.join(repeated(seen.final_committed))}"
                if repeated(seen.final_committed)
                else ""
            ),
        ),
        equal(
            "read_uncommitted also sees the aborted ones",
            in_flight,
            repeated(seen.final_uncommitted),
        ),
    ]
