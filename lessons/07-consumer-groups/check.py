"""Lesson 7's check: three payment replicas split the partitions between them without overlap,
no order was lost or paid twice while they moved, the lag drained, and one replica took every
partition back at the end; and a third consumer's join rebalanced a group under each group
protocol, classic and KIP-848's consumer, the broker running each as asked."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kafkalab.verdict import Check, equal, expect

Assignment = dict[str, list[str]]  # member (client.id) → "topic[partition]" it owns


@dataclass
class Rebalance:
    protocol: str  # group.protocol of the three consumers: "classic" or "consumer"
    seconds: float | None  # third member's subscribe → every share in place (None: not in time)
    owned: Assignment  # each member's partitions, from its on_assign/on_revoke callbacks
    group_type: str  # the protocol the broker says the group runs (describe_consumer_groups)


@dataclass
class Seen:
    partitions: list[str]  # every partition the payment group reads
    scaled_up: Assignment  # the broker's view once three replicas were stable
    scaled_down: Assignment  # … and once back at one
    orders: list[str]  # orders the demo placed while the group rescaled
    decisions: list[str]  # order ids of the payment decisions read back from `payments`
    lag_samples: list[int]  # the payment group's total lag, sampled during the run
    final_lag: int | None  # the lag at the end (None: it never reached 0 in time)
    rebalances: list[Rebalance]  # the same join measured under each group protocol


def owned_twice(assignment: Assignment) -> list[str]:
    counts = Counter(p for owned in assignment.values() for p in owned)
    return sorted(p for p, n in counts.items() if n > 1)


def _shared_out(r: Rebalance, partitions: int = 6) -> bool:
    """Three members, each with partitions, that own `partitions` partitions exactly once."""
    shares = [p for owned in r.owned.values() for p in owned]
    complete = len(shares) == partitions and len(set(shares)) == partitions
    return len(r.owned) == 3 and all(r.owned.values()) and complete


def _summary(r: Rebalance) -> str:
    took = "not in time" if r.seconds is None else f"{r.seconds:.1f} s"
    twice = owned_twice(r.owned)
    return f"{r.protocol}: {took}, {sorted(len(ps) for ps in r.owned.values())} partitions" + (
        f", twice: {', '.join(twice)}" if twice else ""
    )


def check(seen: Seen) -> list[Check]:
    up, down = seen.scaled_up, seen.scaled_down
    covered = sorted({p for owned in up.values() for p in owned})
    missing = sorted(set(seen.orders) - set(seen.decisions))
    twice = sorted(o for o, n in Counter(seen.decisions).items() if n > 1 and o in seen.orders)
    sizes = sorted(len(owned) for owned in up.values())
    return [
        expect(
            "three members, each with partitions",
            len(up) == 3 and all(up.values()),
            f"{len(up)} members owning {sizes} partitions",
        ),
        expect(
            "every partition owned exactly once",
            covered == sorted(seen.partitions) and not owned_twice(up),
            f"{len(covered)} of {len(seen.partitions)} partitions owned"
            + (f"; twice: {', '.join(owned_twice(up))}" if owned_twice(up) else ""),
        ),
        expect(
            "every order decided once during the rescale",
            bool(seen.orders) and not missing and not twice,
            f"{len(seen.orders)} orders placed"
            + (f"; undecided: {', '.join(missing[:5])}" if missing else "")
            + (f"; decided twice: {', '.join(twice[:5])}" if twice else "; each decided once"),
        ),
        equal("lag back to 0", 0, seen.final_lag),
        expect(
            "one replica owns everything again",
            len(down) == 1 and sorted(next(iter(down.values()), [])) == sorted(seen.partitions),
            f"{len(down)} member(s) owning {[len(v) for v in down.values()]} partitions",
        ),
        # How long each took is shown, never judged: it depends on heartbeats and the machine.
        expect(
            "a third consumer's join rebalanced both groups",
            len(seen.rebalances) == 2
            and all(r.seconds is not None and _shared_out(r) for r in seen.rebalances),
            "; ".join(_summary(r) for r in seen.rebalances) or "nothing measured",
        ),
        expect(
            "the broker ran each group with its protocol",
            sorted(r.protocol for r in seen.rebalances) == ["classic", "consumer"]
            and all(r.group_type == r.protocol for r in seen.rebalances),
            ", ".join(f"asked {r.protocol}, described {r.group_type}" for r in seen.rebalances)
            or "nothing measured",
        ),
    ]
