"""The autoscaler: its pure decision (lag samples → one step) and one round of its loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkalab.connection import Connection
from kafkalab.observe.lag import GroupLag, PartitionLag
from kafkalab.platform import autoscaler, files
from kafkalab.platform.autoscaler import Autoscaler
from kafkalab.platform.scaling import MAX_REPLICAS, Policy, Sample, decide, replica_limit
from kafkalab.settings import Settings, load_settings
from tests.helpers import NOWHERE

POLICY = Policy(lag_threshold=100, sustain_seconds=10, idle_seconds=30)


def samples(*pairs: tuple[float, int]) -> list[Sample]:
    return [Sample(at, lag) for at, lag in pairs]


def steady(lag: int, seconds: float, every: float = 2.0) -> list[Sample]:
    return [Sample(i * every, lag) for i in range(int(seconds / every) + 1)]


def test_lag_over_the_threshold_for_the_whole_window_adds_one_replica() -> None:
    decision = decide(POLICY, "payment", steady(500, 10), replicas=1, limit=6, added=0)
    assert decision is not None
    assert (decision.kind, decision.replicas, decision.target) == ("up", 1, 2)
    assert "lag 500 > 100 for 10 s" in decision.reason


def test_a_window_not_yet_covered_decides_nothing() -> None:
    assert decide(POLICY, "payment", steady(500, 8), replicas=1, limit=6, added=0) is None
    assert decide(POLICY, "payment", [], replicas=1, limit=6, added=0) is None


def test_one_sample_at_or_under_the_threshold_in_the_window_decides_nothing() -> None:
    history = samples((0, 500), (2, 500), (4, 100), (6, 500), (8, 500), (10, 500))
    assert decide(POLICY, "payment", history, replicas=1, limit=6, added=0) is None


def test_only_the_last_window_counts() -> None:
    # Quiet long ago, behind for the last 10 s: scale.
    history = samples((0, 0), (5, 0), (10, 300), (12, 300), (16, 300), (20, 300))
    decision = decide(POLICY, "payment", history, replicas=2, limit=6, added=1)
    assert decision is not None and decision.target == 3


def test_at_the_partition_limit_it_is_capped_not_scaled() -> None:
    decision = decide(POLICY, "payment", steady(900, 12), replicas=3, limit=3, added=2)
    assert decision is not None
    assert decision.kind == "capped" and decision.target == 3
    assert "3 replica(s)" in decision.reason


def test_a_service_scaled_to_zero_is_left_alone() -> None:
    assert decide(POLICY, "payment", steady(900, 12), replicas=0, limit=6, added=0) is None


def test_idle_long_enough_removes_a_replica_it_added() -> None:
    decision = decide(POLICY, "payment", steady(0, 30), replicas=3, limit=6, added=2)
    assert decision is not None
    assert (decision.kind, decision.target) == ("down", 2)


def test_it_never_removes_replicas_a_person_asked_for() -> None:
    assert decide(POLICY, "payment", steady(0, 40), replicas=3, limit=6, added=0) is None


def test_scaling_down_can_be_switched_off() -> None:
    never = Policy(100, 10, idle_seconds=0)
    assert decide(never, "payment", steady(0, 120), replicas=3, limit=6, added=2) is None


def test_idle_but_not_for_long_enough_keeps_the_replicas() -> None:
    assert decide(POLICY, "payment", steady(0, 20), replicas=3, limit=6, added=2) is None


def test_the_limit_is_every_subscribed_partition_capped() -> None:
    # cooperative-sticky balances all subscribed partitions, whatever their topic: payment's
    # 6 + 6 partitions keep 12 members busy, not 6.
    assert replica_limit([6, 6]) == 12
    assert replica_limit([6]) == 6
    assert replica_limit([3, 1]) == 4
    assert replica_limit([6, 6, 3]) == MAX_REPLICAS == 12
    assert replica_limit([]) == 0


# -- one round of the loop, with lag and partitions faked and the files real ---------------------


class FakeKafka:
    def __init__(self) -> None:
        self.lag = {"payment": 0, "inventory": 0}
        self.now = 0.0

    def lags(self, _conn: Connection) -> list[GroupLag]:
        return [
            # Committed on inventory-events only: payments.retry has seen no record yet.
            GroupLag(f"kafkalab-{name}", [PartitionLag("inventory-events", 0, 0, lag)])
            for name, lag in self.lag.items()
        ]

    def partitions(self, _conn: Connection) -> dict[str, int]:
        return {"inventory-events": 1, "payments.retry": 1}  # 2 partitions in all

    def topics(self, _conn: Connection, _group: str) -> set[str]:
        return {"inventory-events", "payments.retry"}  # what the members are assigned

    def clock(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path)
    files.write_json(files.desired_file(settings), {"payment": 1, "inventory": 1})
    return settings


def run_rounds(scaler: autoscaler.Autoscaler, kafka: FakeKafka, seconds: float) -> list[str]:
    steps = []
    end = kafka.now + seconds
    while kafka.now <= end:
        steps += [f"{d.kind} {d.replicas}→{d.target}" for d in scaler.step()]
        kafka.now += 2
    return steps


def test_without_the_wish_file_it_does_nothing(settings: Settings) -> None:
    kafka = FakeKafka()
    kafka.lag["payment"] = 10_000
    scaler = Autoscaler(settings, NOWHERE, kafka.lags, kafka.partitions, kafka.clock, kafka.topics)
    assert run_rounds(scaler, kafka, 30) == []
    assert files.read_desired(settings)["payment"] == 1
    assert autoscaler.read_state(settings).policy is None


def test_sustained_lag_scales_up_to_the_partition_limit_then_down_again(settings: Settings) -> None:
    autoscaler.enable(settings, Policy(lag_threshold=100, sustain_seconds=4, idle_seconds=6))
    kafka = FakeKafka()
    scaler = Autoscaler(settings, NOWHERE, kafka.lags, kafka.partitions, kafka.clock, kafka.topics)
    kafka.lag["payment"] = 500
    kafka.lag["inventory"] = 5_000  # never autoscaled: its stock ledger is one process's
    # The group reads 2 partitions here (one per topic, one of them not committed on yet): one
    # step up, then capped (logged once).
    assert run_rounds(scaler, kafka, 30) == ["up 1→2", "capped 2→2"]
    assert files.read_desired(settings)["payment"] == 2
    assert files.read_desired(settings)["inventory"] == 1
    kafka.lag["payment"] = 0
    assert run_rounds(scaler, kafka, 20) == ["down 2→1"]
    assert files.read_desired(settings)["payment"] == 1

    state = json.loads(autoscaler.state_file(settings).read_text())
    assert set(state["groups"]) == {"payment"}
    assert [d["kind"] for d in state["decisions"]] == ["up", "capped", "down"]
    assert state["groups"]["payment"] == {"lag": 0, "replicas": 1, "limit": 2, "added": 0}
    assert state["policy"]["lag_threshold"] == 100


def test_a_broken_wish_file_reads_as_off(settings: Settings) -> None:
    autoscaler.wish_file(settings).write_text("{not json")
    assert autoscaler.read_policy(settings) is None


def test_a_manual_scale_starts_a_fresh_window(settings: Settings) -> None:
    autoscaler.enable(settings, Policy(lag_threshold=100, sustain_seconds=6, idle_seconds=0))
    kafka = FakeKafka()
    scaler = Autoscaler(settings, NOWHERE, kafka.lags, kafka.partitions, kafka.clock, kafka.topics)
    kafka.lag["payment"] = 500
    assert run_rounds(scaler, kafka, 4) == []  # 4 s of lag: not yet
    files.write_json(files.desired_file(settings), {"payment": 2, "inventory": 1})
    # Without the reset, the lag seen at 1 replica would be judged against 2 replicas at once.
    assert run_rounds(scaler, kafka, 4) == []
    assert run_rounds(scaler, kafka, 2) == ["capped 2→2"]  # 2 partitions: 2 is the limit
