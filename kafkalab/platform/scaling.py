"""The autoscaler's decision, as a pure function: lag samples in, one scaling step (or none) out.

The rule, per service (= per consumer group):
- **up**: every lag sample of the last `sustain_seconds` is above `lag_threshold`, and the
  samples cover that whole window → one more replica. A spike shorter than the window does
  nothing; a group that stays behind gets help.
- **capped**: the same, but the group already has as many replicas as it can use — a consumer
  group spreads partitions, so members beyond the partitions of all its topics would sit idle.
- **down** (optional): every sample of the last `idle_seconds` is 0 lag → one replica fewer,
  but only replicas the autoscaler itself added; what a person asked for with `scale` stays.

A service scaled to 0 on purpose is never started by the autoscaler. After any step the caller
clears that service's samples, so the next step needs a whole fresh window: the new replica
gets time to join the group and take its partitions before anyone judges it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["up", "down", "capped"]
MAX_REPLICAS = 12
"""The most replicas `kafkalab scale` runs of one service: payment's group reads 12 partitions
(inventory-events and payments.retry, 6 each), and cooperative-sticky spreads every subscribed
partition over the members, so a 13th would sit idle. (Inventory's group reads 15, but its
stock ledger lives in one process, so it must not run more than one replica anyway.)"""


@dataclass(frozen=True)
class Policy:
    """What `kafkalab up --autoscale` asked for."""

    lag_threshold: int = 100
    sustain_seconds: float = 10.0
    idle_seconds: float = 60.0
    """0 lag for this long removes one added replica; 0 turns scaling down off."""

    @property
    def scales_down(self) -> bool:
        return self.idle_seconds > 0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds, any monotonic origin
    lag: int


@dataclass(frozen=True)
class Decision:
    service: str
    kind: Kind
    replicas: int  # before
    target: int  # after (equal to `replicas` when capped)
    reason: str


def replica_limit(partition_counts: Sequence[int]) -> int:
    """How many members a group reading topics with these partition counts can keep busy.

    Each partition goes to one member, and the services' assignor, cooperative-sticky, balances
    all subscribed partitions over the members regardless of topic (as roundrobin does; range
    would divide each topic separately). So every partition of every topic can have its own
    member: the limit is their sum (never above MAX_REPLICAS).
    """
    return min(sum(partition_counts), MAX_REPLICAS)


def _window(samples: Sequence[Sample], seconds: float) -> list[Sample] | None:
    """The samples of the last `seconds`, or None while they do not yet span that long."""
    if not samples or samples[-1].at - samples[0].at < seconds:
        return None
    start = samples[-1].at - seconds
    return [s for s in samples if s.at >= start]


def decide(
    policy: Policy,
    service: str,
    samples: Sequence[Sample],
    replicas: int,
    limit: int,
    added: int,
) -> Decision | None:
    """One step for `service`, given its lag samples (oldest first) since its last step.

    `replicas` is how many run now, `limit` how many its topics can use (replica_limit),
    `added` how many of them the autoscaler started. None: leave it as it is.
    """
    if replicas < 1 or limit < 1:
        return None
    recent = _window(samples, policy.sustain_seconds)
    if recent is not None and all(s.lag > policy.lag_threshold for s in recent):
        lag = recent[-1].lag
        why = f"lag {lag} > {policy.lag_threshold} for {policy.sustain_seconds:g} s"
        if replicas >= limit:
            return Decision(
                service,
                "capped",
                replicas,
                replicas,
                f"{why}, but {limit} replica(s) is the most its partitions allow",
            )
        return Decision(service, "up", replicas, replicas + 1, why)
    if policy.scales_down and added > 0 and replicas > 1:
        idle = _window(samples, policy.idle_seconds)
        if idle is not None and all(s.lag == 0 for s in idle):
            return Decision(
                service,
                "down",
                replicas,
                replicas - 1,
                f"lag 0 for {policy.idle_seconds:g} s; removing a replica it added",
            )
    return None
