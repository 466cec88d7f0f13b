"""Lesson 20's check says ✘ for each way a failover can go wrong."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

check_module = load_module(find(20), "check")
Seen, Moved, check = check_module.Seen, check_module.Moved, check_module.check

THREE = [1, 2, 3]


def good() -> Any:
    return Seen(
        brokers=THREE,
        replicas={0: THREE, 1: THREE, 2: THREE},
        isr_before={0: THREE, 1: THREE, 2: THREE},
        min_insync="2",
        victim=3,
        leaders_before={0: 3, 1: 1, 2: 2},
        leaders_after={0: 1, 1: 1, 2: 2},
        acked_before_kill=300,
        acked=[str(n) for n in range(900)],
        read_back=[str(n) for n in range(900)],
        isr_after_rejoin={0: THREE, 1: THREE, 2: THREE},
        strict_min_insync="3",
        short_isr=[1, 2],
        short_write="NOT_ENOUGH_REPLICAS",
        whole_write="",
        session_timeout="9000",
        leader_after_kill=3,
        elr_while_down=[3],
        elr_after_rejoin=[],
        moved=Moved(
            before={0: [1, 2], 1: [1, 2]},
            proposed={0: [2, 3], 1: [2, 3]},
            verified=2,
            after={0: [2, 3], 1: [2, 3]},
            isr_after={0: [2, 3], 1: [2, 3]},
        ),
    )


def moved(**change: Any) -> dict[str, Any]:
    return {"moved": replace(good().moved, **change)}


MIN_ISR = "min.insync.replicas enforced by the broker"
SESSION = "the controller waited for the dead broker's session to run out"
ELR = "the strict topic kept the dead broker as an eligible leader replica"
MOVED = "kafka-reassign-partitions moved the topic onto broker 3"


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"brokers": [1, 2]}, "three brokers"),
        ({"replicas": {0: [1], 1: THREE, 2: THREE}}, "replication factor 3"),
        ({"isr_before": {0: [1, 2], 1: THREE, 2: THREE}}, "all replicas in sync before"),
        ({"min_insync": "1"}, MIN_ISR),
        ({"strict_min_insync": "2"}, MIN_ISR),
        ({"short_isr": THREE}, MIN_ISR),
        ({"short_write": ""}, MIN_ISR),
        ({"short_write": "REQUEST_TIMED_OUT"}, MIN_ISR),
        ({"whole_write": "NOT_ENOUGH_REPLICAS"}, MIN_ISR),
        ({"victim": 5}, "the victim led a partition"),
        ({"leaders_after": {0: 3, 1: 1, 2: 2}}, "new leaders elected"),
        ({"leaders_after": {0: -1, 1: 1, 2: 2}}, "new leaders elected"),
        (
            {"acked": [str(n) for n in range(300)], "read_back": [str(n) for n in range(300)]},
            "writes went on after the kill",
        ),
        ({"read_back": [str(n) for n in range(899)]}, "no acknowledged record lost"),
        (
            {"read_back": [*(str(n) for n in range(900)), "7"]},
            "no record written twice (idempotence)",
        ),
        ({"isr_after_rejoin": {0: [1, 2], 1: THREE, 2: THREE}}, "the broker rejoined the ISR"),
        ({"session_timeout": "3000"}, SESSION),
        ({"leader_after_kill": 1}, SESSION),  # an instant failover: no kill, a clean shutdown
        ({"elr_while_down": []}, ELR),
        ({"elr_while_down": [1]}, ELR),
        ({"elr_after_rejoin": [3]}, ELR),
        ({"moved": None}, MOVED),
        (moved(before={0: [2, 3], 1: [1, 2]}), MOVED),
        (moved(after={0: [1, 2], 1: [2, 3]}), MOVED),
        (moved(proposed={0: [1, 3], 1: [2, 3]}, after={0: [1, 3], 1: [2, 3]}), MOVED),
        (moved(verified=1), MOVED),
        (moved(isr_after={0: [3], 1: [2, 3]}), MOVED),
    ],
)
def test_each_wrong_outcome_fails(change: dict[str, Any], name: str) -> None:
    assert name in failing(check(replace(good(), **change)))


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {"min_insync": "1"},
            "the broker holds min.insync.replicas=1 for payments and 3 for the strict topic; "
            "the demo needs 2 and 3",
        ),
        # acks=all with min.insync.replicas=1 in disguise: the short ISR did not stop the write.
        ({"short_write": ""}, "acks=all with 2 of 3 in sync got written, not NOT_ENOUGH_REPLICAS"),
        ({"short_isr": THREE}, "the strict topic's ISR [1, 2, 3] was never short"),
        (
            {"whole_write": "NOT_ENOUGH_REPLICAS"},
            "with 3 in sync again the write got NOT_ENOUGH_REPLICAS",
        ),
    ],
)
def test_the_broker_answer_is_named(change: dict[str, Any], said: str) -> None:
    [judged] = [c for c in check(replace(good(), **change)) if c.name == MIN_ISR]
    assert (judged.ok, judged.detail) == (False, said)
