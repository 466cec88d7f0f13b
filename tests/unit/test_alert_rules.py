"""The shipped alert rules (kafkalab/monitoring/alerts.yml) against planted metric values: each
rule fires on a bad value and stays quiet on a good one, with `for:` honoured over time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kafkalab.catalogue.metrics import CATALOGUE, LEARNER_CATALOGUE, series_names
from kafkalab.monitoring import promql
from kafkalab.monitoring.rules import Alert, AlertEngine, RuleFileError, load_rules, parse_rules
from kafkalab.monitoring.scrape import History, Scrape

Series = dict[str, list[tuple[dict[str, str], float]]]
Plant = Callable[[float], Series]  # the scrape at time t (seconds since the start)

RULES = {rule.name: rule for rule in load_rules()}
STEP = 5.0


def run(rule_name: str, plant: Plant, seconds: float = 120.0) -> list[Alert]:
    """Scrape `plant` every 5 s for `seconds`, evaluating the rule after each scrape like
    `kafkalab alerts --watch`; the alerts of the last evaluation."""
    engine = AlertEngine([RULES[rule_name]])
    store = History(keep=engine.history_seconds + 15)
    found: list[Alert] = []
    t = 0.0
    while t <= seconds:
        scrape = Scrape(t)
        for name, samples in plant(t).items():
            for labels, value in samples:
                scrape.add(name, labels, value)
        store.add(scrape)
        found = engine.evaluate(store, t)
        t += STEP
    return found


def firing(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.state == "firing"]


def lag(a: float, b: float) -> Plant:
    return lambda t: {
        "kafkalab_consumergroup_lag": [
            ({"group": "kafkalab-notification", "topic": "order-events", "partition": "0"}, a),
            ({"group": "kafkalab-notification", "topic": "order-events", "partition": "1"}, b),
            ({"group": "kafkalab-order", "topic": "payments", "partition": "0"}, 0.0),
        ]
    }


def errors(dead_per_s: float, ok_per_s: float) -> Plant:
    return lambda t: {
        "kafkalab_dead_letters_total": [
            ({"service": "payment", "topic": "payments.DLT"}, dead_per_s * t)
        ],
        "kafkalab_events_consumed_total": [
            ({"service": "payment", "topic": "inventory-events", "event_type": "X"}, ok_per_s * t)
        ],
    }


def stock(available: float, seeded: float) -> Plant:
    return lambda t: {
        "kafkalab_inventory_stock_units": [
            ({"sku": "SKU-BOOK", "state": "available"}, available),
            ({"sku": "SKU-BOOK", "state": "reserved"}, 0.0),
            ({"sku": "SKU-MUG", "state": "available"}, 100.0),
        ],
        "kafkalab_inventory_seeded_units": [
            ({"sku": "SKU-BOOK"}, seeded),
            ({"sku": "SKU-MUG"}, 100.0),
        ],
    }


def payments(completed: float, failed: float, duplicates: float = 0.0) -> Plant:
    return lambda t: {
        "kafkalab_payments_total": [
            ({"outcome": "completed"}, completed * t),
            ({"outcome": "insufficient_funds"}, failed * t),
            ({"outcome": "duplicate"}, duplicates * t),
            ({"outcome": "retry_scheduled"}, duplicates * t),
        ]
    }


def circuit(state: float) -> Plant:
    return lambda t: {"kafkalab_payment_circuit_state": [({}, state)]}


def throughput(before: float, after: float, change_at: float = 240.0) -> Plant:
    def plant(t: float) -> Series:
        total = before * min(t, change_at) + after * max(t - change_at, 0.0)
        return {
            "kafkalab_events_consumed_total": [
                ({"service": "order", "topic": "t", "event_type": "E"}, total)
            ]
        }

    return plant


def up(value: float) -> Plant:
    return lambda t: {
        "up": [
            ({"job": "kafkalab", "instance": "127.0.0.1:8105", "endpoint": "notification"}, value),
            ({"job": "kafkalab", "instance": "127.0.0.1:8101", "endpoint": "user"}, 1.0),
        ]
    }


def broker_gauge(name: str, values: list[float]) -> Plant:
    """One gauge per broker agent (instances 9404, 9405, ...)."""
    return lambda t: {
        name: [
            ({"job": "kafka", "instance": f"127.0.0.1:{9404 + i}", "endpoint": "broker"}, v)
            for i, v in enumerate(values)
        ]
    }


def refund_dead_letters(per_minute: float) -> Plant:
    """The learner's refund service's counter (`up --with refund`), rising `per_minute`."""
    labels = {"job": "kafkalab", "instance": "127.0.0.1:8108", "endpoint": "refund"}
    return lambda t: {"refunds_dead_letters_total": [(labels, per_minute * t / 60)]}


UNDER_REPLICATED = "kafka_server_replicamanager_underreplicatedpartitions"
OFFLINE = "kafka_controller_kafkacontroller_offlinepartitionscount"

CASES = [
    ("KafkalabConsumerLag", lag(40, 30), lag(20, 10), {"group": "kafkalab-notification"}, 70.0),
    ("KafkalabHighErrorRate", errors(1.0, 9.0), errors(0.1, 99.9), {"service": "payment"}, 0.1),
    ("KafkalabLowInventory", stock(5, 50), stock(25, 50), {"sku": "SKU-BOOK"}, 0.1),
    ("KafkalabPaymentFailures", payments(1.0, 1.0, 5.0), payments(9.0, 1.0, 5.0), {}, 0.5),
    ("KafkalabPaymentCircuitOpen", circuit(1), circuit(2), {}, 1.0),
    ("KafkalabThroughputDrop", throughput(10.0, 0.0), throughput(10.0, 10.0), {}, 0.0),
    ("KafkalabServiceDown", up(0), up(1), {"endpoint": "notification"}, 0.0),
    (
        "KafkalabRefundDeadLetters",
        refund_dead_letters(1),
        refund_dead_letters(0),
        {"endpoint": "refund"},
        2.0,
    ),
    (
        "KafkaUnderReplicatedPartitions",
        broker_gauge(UNDER_REPLICATED, [4, 0, 3]),
        broker_gauge(UNDER_REPLICATED, [0, 0, 0]),
        {},
        7.0,
    ),
    (
        "KafkaOfflinePartitions",
        broker_gauge(OFFLINE, [2, 2, 2]),
        broker_gauge(OFFLINE, [0, 0]),
        {},
        2.0,
    ),
]


def test_every_shipped_rule_has_a_planted_case() -> None:
    assert {case[0] for case in CASES} == set(RULES)


@pytest.mark.parametrize(
    ("rule", "bad", "good", "labels", "value"), CASES, ids=[c[0] for c in CASES]
)
def test_a_rule_fires_on_a_bad_value_and_not_on_a_good_one(
    rule: str, bad: Plant, good: Plant, labels: dict[str, str], value: float
) -> None:
    seconds = 360.0 if rule == "KafkalabThroughputDrop" else 120.0
    fired = firing(run(rule, bad, seconds))
    assert len(fired) == 1, fired
    assert labels.items() <= fired[0].labels.items()
    assert fired[0].value == pytest.approx(value)
    assert fired[0].summary and "{{" not in fired[0].summary
    quiet = run(rule, good, seconds)
    assert [a.state for a in quiet] == ["inactive"]


def test_for_keeps_an_alert_pending_until_it_held_that_long() -> None:
    rule = RULES["KafkalabConsumerLag"]
    assert rule.for_seconds == 15
    short = run("KafkalabConsumerLag", lag(40, 30), seconds=10)
    assert [a.state for a in short] == ["pending"]
    assert firing(run("KafkalabConsumerLag", lag(40, 30), seconds=15))


def test_an_alert_that_recovers_goes_inactive_and_pends_again_from_scratch() -> None:
    engine = AlertEngine([RULES["KafkalabConsumerLag"]])
    store = History(keep=60)

    def at(t: float, behind: float) -> list[Alert]:
        scrape = Scrape(t)
        scrape.add(
            "kafkalab_consumergroup_lag", {"group": "g", "topic": "t", "partition": "0"}, behind
        )
        store.add(scrape)
        return engine.evaluate(store, t)

    assert at(0, 100)[0].state == "pending"
    assert at(20, 100)[0].state == "firing"
    assert at(25, 0)[0].state == "inactive"
    assert at(30, 100)[0].state == "pending"


def test_every_metric_a_rule_reads_is_in_the_catalogue() -> None:
    specs = (*CATALOGUE, *LEARNER_CATALOGUE)
    exported = {name for spec in specs for name in series_names(spec)} | {"up"}
    for rule in RULES.values():
        assert promql.metric_names(rule.expr) <= exported, rule.name


def test_a_rule_file_outside_the_subset_is_refused_with_the_alert_named(tmp_path: Path) -> None:
    bad = {
        "groups": [
            {"name": "g", "rules": [{"alert": "Slow", "expr": "histogram_quantile(0.9, x) > 1"}]}
        ]
    }
    with pytest.raises(RuleFileError, match="alert Slow: the function 'histogram_quantile'"):
        parse_rules(bad)
    with pytest.raises(RuleFileError, match="only alerting rules"):
        parse_rules({"groups": [{"name": "g", "rules": [{"record": "x", "expr": "y"}]}]})
    with pytest.raises(RuleFileError, match="has no 'groups:' list"):
        parse_rules({"rules": []})
    path = tmp_path / "rules.yml"
    path.write_text("groups: [\n")
    with pytest.raises(RuleFileError, match="not valid YAML"):
        load_rules(path)
