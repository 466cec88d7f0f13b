"""A lesson's own Prometheus (lesson 19's break): the real binary, the learner's rules loaded
beside alerts.yml, and nothing left running or on disk once the block ends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kafkalab import processes
from kafkalab.curriculum import prometheus as own
from kafkalab.monitoring import prometheus_api
from kafkalab.monitoring.rules import default_rule_file, load_rules
from kafkalab.settings import load_settings

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is not installed (Debian `prometheus`)"
)
MINE = """\
groups:
  - name: lesson19
    rules:
      - alert: ConsumerGroupBehind
        expr: sum by (group) (kafkalab_consumergroup_lag) > 50
        for: 5s
"""


def test_it_loads_both_rule_files_and_is_gone_afterwards(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    rules = tmp_path / "rules.yml"
    rules.write_text(MINE)
    folder = tmp_path / "prometheus"
    with own.running(settings, folder, [rules, default_rule_file()], interval=2.0) as prom:
        loaded = {(r.group, r.name) for r in prometheus_api.loaded_rules(prom.url)}
        pid = processes.read_pid(folder / "prometheus.pid")
        assert pid is not None and processes.pid_alive(pid)
    assert ("lesson19", "ConsumerGroupBehind") in loaded
    assert {("kafkalab", r.name) for r in load_rules()} <= loaded
    assert not processes.pid_alive(pid)
    assert not (folder / "data").exists()
