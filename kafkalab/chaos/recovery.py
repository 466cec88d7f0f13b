"""Recovery from a broker kill, measured partition by partition rather than guessed.

A partition the dead broker led has recovered when three things happened, each timed from the
kill: the metadata names a *different*, live leader; its ISR no longer holds the dead broker;
and an acks=all probe write to it was acknowledged (chaos/write_probe.py). Right after a SIGKILL the
metadata still names the dead broker as leader: nothing notices a silent broker until the
controller fences it, `broker.session.timeout.ms` (9 s by default) after its last heartbeat.
So "recovered" is never said while any of the three is missing.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafkalab.cluster.health import PartitionView


@dataclass
class PartitionRecovery:
    """One partition the dead broker led, and when (s after the kill) each step happened."""

    partition: str
    old_leader: int
    new_leader: int | None = None
    leader_s: float | None = None
    isr_s: float | None = None
    probe_s: float | None = None
    led: bool = True
    """False for a partition the dead broker only followed: it needs no new leader and gets
    no probe, but its ISR must still drop the dead broker."""

    @property
    def recovered(self) -> bool:
        return self.seconds is not None

    @property
    def seconds(self) -> float | None:
        """When the last of its steps happened (None until all have)."""
        if not self.led:
            return self.isr_s
        if self.leader_s is None or self.isr_s is None or self.probe_s is None:
            return None
        return max(self.leader_s, self.isr_s, self.probe_s)


@dataclass
class KillRecovery:
    """Every partition `victim` led when it was killed, as the watch saw them recover."""

    victim: int
    partitions: list[PartitionRecovery] = field(default_factory=list)
    """The partitions it led first, then those it only followed in sync."""

    @property
    def led(self) -> list[PartitionRecovery]:
        return [p for p in self.partitions if p.led]

    @property
    def recovered(self) -> bool:
        return all(p.recovered for p in self.partitions)

    @property
    def seconds(self) -> float | None:
        """Kill → the last partition recovered (None while any has not)."""
        times = [p.seconds for p in self.partitions]
        if not times:
            return 0.0
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def waiting(self) -> dict[str, int]:
        """How many partitions still wait for each step."""
        led = self.led
        return {
            "a new leader": sum(p.leader_s is None for p in led),
            "the ISR to drop the dead broker": sum(p.isr_s is None for p in self.partitions),
            "an acks=all write": sum(p.probe_s is None for p in led),
        }

    def summary(self) -> str:
        """One line: how many partitions, and the spread of each step's time."""
        led = self.led
        parts = [
            f"{what} {_spread([getattr(p, attr) for p in led])}"
            for what, attr in (
                ("new leader", "leader_s"),
                ("ISR shrunk", "isr_s"),
                ("acks=all probe", "probe_s"),
            )
        ]
        followed = [p.isr_s for p in self.partitions if not p.led]
        tail = f"; {len(followed)} it followed: ISR shrunk {_spread(followed)}" if followed else ""
        return f"{len(led)} partition(s) broker-{self.victim} led: " + "; ".join(parts) + tail


def _spread(times: list[float | None]) -> str:
    done = sorted(t for t in times if t is not None)
    if not done:
        return "—"
    missing = len(times) - len(done)
    text = (
        f"{done[0]:.1f}–{done[-1]:.1f} s (median {statistics.median(done):.1f})"
        if len(done) > 1
        else f"{done[0]:.1f} s"
    )
    return text + (f", {missing} still waiting" if missing else "")


def led_by(victim: int, views: Iterable[PartitionView]) -> KillRecovery:
    """The partitions `victim` leads now, then those whose ISR holds it, each yet to recover."""
    ordered = sorted(views, key=_order)
    led = [PartitionRecovery(v.name, victim) for v in ordered if v.leader == victim]
    followed = [
        PartitionRecovery(v.name, v.leader, led=False)
        for v in ordered
        if v.leader != victim and victim in v.isr
    ]
    return KillRecovery(victim, led + followed)


def _order(view: PartitionView) -> tuple[str, int]:
    topic, _, rest = view.name.rpartition("[")
    return topic, int(rest.rstrip("]"))


def observe(
    recovery: KillRecovery,
    views: Mapping[str, PartitionView],
    live: Iterable[int],
    at_s: float,
) -> list[PartitionRecovery]:
    """Apply one metadata snapshot taken `at_s` after the kill; returns the partitions whose
    leader moved in it. `live`: the brokers the metadata lists (unfenced)."""
    alive = set(live) - {recovery.victim}
    moved = []
    for p in recovery.partitions:
        view = views.get(p.partition)
        if view is None:
            continue
        if p.led and p.leader_s is None and view.leader != recovery.victim and view.leader in alive:
            p.leader_s, p.new_leader = at_s, view.leader
            moved.append(p)
        if p.isr_s is None and recovery.victim not in view.isr and view.isr:
            p.isr_s = at_s
    return moved


def record_probes(recovery: KillRecovery, acked: Mapping[str, float]) -> None:
    """Take the probe's acknowledgement times (s after the kill)."""
    for p in recovery.partitions:
        if p.probe_s is None and p.partition in acked:
            p.probe_s = acked[p.partition]
