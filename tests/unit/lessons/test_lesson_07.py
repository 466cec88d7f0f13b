"""Lesson 7's check says ✘ for each way the outcome can be wrong."""

from __future__ import annotations

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(7), "check")
Seen, Rebalance, check = check_module.Seen, check_module.Rebalance, check_module.check

PARTITIONS = [f"t[{n}]" for n in range(6)]


def good() -> object:
    return Seen(
        partitions=list(PARTITIONS),
        scaled_up={"p-0": PARTITIONS[:2], "p-1": PARTITIONS[2:4], "p-2": PARTITIONS[4:]},
        scaled_down={"p-0": list(PARTITIONS)},
        orders=["a", "b", "c"],
        decisions=["b", "a", "c"],
        lag_samples=[3, 5, 0],
        final_lag=0,
        rebalances=[rebalance("classic", 3.2), rebalance("consumer", 1.2)],
    )


def rebalance(protocol: str, seconds: float) -> object:
    owned = {f"{protocol}-{n}": PARTITIONS[2 * n : 2 * n + 2] for n in range(3)}
    return Rebalance(protocol=protocol, seconds=seconds, owned=owned, group_type=protocol)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_member_without_partitions_fails() -> None:
    seen = good()
    seen.scaled_up = {"p-0": PARTITIONS[:3], "p-1": PARTITIONS[3:], "p-2": []}
    assert failing(check(seen)) == {"three members, each with partitions"}


def test_only_two_members_fails() -> None:
    seen = good()
    seen.scaled_up = {"p-0": PARTITIONS[:3], "p-1": PARTITIONS[3:]}
    assert failing(check(seen)) == {"three members, each with partitions"}


def test_a_partition_owned_twice_fails() -> None:
    seen = good()
    seen.scaled_up["p-2"] = [*PARTITIONS[4:], "t[0]"]
    assert failing(check(seen)) == {"every partition owned exactly once"}


def test_an_unowned_partition_fails() -> None:
    seen = good()
    seen.scaled_up["p-2"] = ["t[4]"]
    assert failing(check(seen)) == {"every partition owned exactly once"}


def test_an_undecided_order_fails() -> None:
    seen = good()
    seen.decisions = ["a", "c"]
    assert failing(check(seen)) == {"every order decided once during the rescale"}


def test_an_order_decided_twice_fails() -> None:
    seen = good()
    seen.decisions.append("a")
    assert failing(check(seen)) == {"every order decided once during the rescale"}


def test_no_orders_placed_fails() -> None:
    seen = good()
    seen.orders, seen.decisions = [], []
    assert failing(check(seen)) == {"every order decided once during the rescale"}


def test_lag_that_never_drained_fails() -> None:
    seen = good()
    seen.final_lag = None
    assert failing(check(seen)) == {"lag back to 0"}


def test_partitions_not_returned_after_scaling_down_fails() -> None:
    seen = good()
    seen.scaled_down = {"p-0": PARTITIONS[:4]}
    assert failing(check(seen)) == {"one replica owns everything again"}


REBALANCED = "a third consumer's join rebalanced both groups"


def test_a_partition_assigned_twice_after_the_join_fails() -> None:
    seen = good()
    seen.rebalances[1].owned["consumer-2"] = ["t[4]", "t[0]"]
    assert failing(check(seen)) == {REBALANCED}


def test_a_partition_nobody_owns_after_the_join_fails() -> None:
    seen = good()
    seen.rebalances[0].owned["classic-2"] = ["t[4]"]
    assert failing(check(seen)) == {REBALANCED}


def test_a_newcomer_left_without_partitions_fails() -> None:
    seen = good()
    seen.rebalances[0].owned = {"classic-0": PARTITIONS[:3], "classic-1": PARTITIONS[3:]}
    seen.rebalances[0].owned["classic-2"] = []
    assert failing(check(seen)) == {REBALANCED}


def test_a_rebalance_that_never_completed_fails() -> None:
    seen = good()
    seen.rebalances[1].seconds = None
    assert failing(check(seen)) == {REBALANCED}


def test_the_slower_protocol_is_not_judged() -> None:
    seen = good()
    seen.rebalances[1].seconds = 9.0  # timings are shown, never asserted
    assert passed(check(seen))


def test_a_consumer_group_the_broker_runs_as_classic_fails() -> None:
    seen = good()
    seen.rebalances[1].group_type = "classic"
    assert failing(check(seen)) == {"the broker ran each group with its protocol"}


def test_nothing_measured_fails_both() -> None:
    seen = good()
    seen.rebalances = []
    assert failing(check(seen)) == {REBALANCED, "the broker ran each group with its protocol"}
