"""The shipped rule file checked by Prometheus' own tool: `promtool check rules`, and `promtool
test rules` with planted series — the same rules must mean the same to Prometheus as to
`kafkalab alerts` (whose planted-value tests are in test_alert_rules.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkalab.monitoring.rules import default_rule_file, load_rules, render

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package `prometheus`)"
)
RULES = {rule.name: rule for rule in load_rules()}


def expected(alert: str, labels: dict[str, str], value: float) -> dict[str, object]:
    """The alert as promtool should report it, annotations rendered by kafkalab's renderer."""
    rule = RULES[alert]
    shown = {**labels, **rule.labels}
    return {
        "exp_labels": shown,
        "exp_annotations": {k: render(v, shown, value) for k, v in rule.annotations.items()},
    }


def test_promtool_check_rules_accepts_the_file() -> None:
    assert PROMTOOL is not None
    run = subprocess.run(
        [PROMTOOL, "check", "rules", str(default_rule_file())], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(RULES)} rules found" in run.stdout


def test_prometheus_evaluates_the_rules_like_kafkalab(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    lag = {"group": "kafkalab-notification"}
    tests = {
        "rule_files": [str(default_rule_file())],
        "evaluation_interval": "5s",
        "tests": [
            {
                "interval": "5s",
                "input_series": [
                    {
                        "series": 'kafkalab_consumergroup_lag{group="kafkalab-notification",'
                        'topic="order-events",partition="0"}',
                        "values": "40x20",
                    },
                    {
                        "series": 'kafkalab_consumergroup_lag{group="kafkalab-notification",'
                        'topic="order-events",partition="1"}',
                        "values": "30x20",
                    },
                    {
                        "series": 'kafkalab_consumergroup_lag{group="kafkalab-order",'
                        'topic="payments",partition="0"}',
                        "values": "20x20",
                    },
                    {
                        "series": 'kafkalab_inventory_stock_units{sku="SKU-BOOK",state="available"}',
                        "values": "5x20",
                    },
                    {
                        "series": 'kafkalab_inventory_seeded_units{sku="SKU-BOOK"}',
                        "values": "50x20",
                    },
                    {
                        "series": 'kafkalab_inventory_stock_units{sku="SKU-MUG",state="available"}',
                        "values": "90x20",
                    },
                    {
                        "series": 'kafkalab_inventory_seeded_units{sku="SKU-MUG"}',
                        "values": "100x20",
                    },
                    {"series": "kafkalab_payment_circuit_state", "values": "0 0 1x18"},
                    # the learner's refund service (`up --with refund`): a poison at 20 s
                    {
                        "series": 'refunds_dead_letters_total{job="kafkalab",'
                        'instance="127.0.0.1:8108",endpoint="refund"}',
                        "values": "0x3 1x16",
                    },
                ],
                "alert_rule_test": [
                    # lag over 50 for kafkalab-notification only; pending until held 15 s
                    {"eval_time": "10s", "alertname": "KafkalabConsumerLag", "exp_alerts": []},
                    {
                        "eval_time": "30s",
                        "alertname": "KafkalabConsumerLag",
                        "exp_alerts": [expected("KafkalabConsumerLag", lag, 70)],
                    },
                    {
                        "eval_time": "30s",
                        "alertname": "KafkalabLowInventory",
                        "exp_alerts": [expected("KafkalabLowInventory", {"sku": "SKU-BOOK"}, 0.1)],
                    },
                    {
                        "eval_time": "5s",
                        "alertname": "KafkalabPaymentCircuitOpen",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "15s",
                        "alertname": "KafkalabPaymentCircuitOpen",
                        "exp_alerts": [expected("KafkalabPaymentCircuitOpen", {}, 1)],
                    },
                    # quiet while the counter stands still, firing (no `for:`) once it rose
                    {
                        "eval_time": "15s",
                        "alertname": "KafkalabRefundDeadLetters",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "20s",
                        "alertname": "KafkalabRefundDeadLetters",
                        "exp_alerts": [
                            expected("KafkalabRefundDeadLetters", {"endpoint": "refund"}, 1)
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    run = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
