"""Lesson 19 exercise — an alert that pages when a consumer group falls behind (reference
solution).

Goal: complete the alerting rule in RULES so it fires when a consumer group falls behind, and
stays quiet while the platform is healthy. Choose what the expression sums and by which label,
the threshold it compares with, and how long (`for:`) it must hold before it fires.

`kafkalab lesson 19` runs this file (it writes RULES to the path it is given), then evaluates
your rule with kafkalab's rule engine against the running platform's real /metrics, scraped
about every 2 s: first while orders flow through healthy services (every group is then at most
a few dozen records behind at a scrape: your alert must not fire), then with `notification`
paused (SIGSTOP, what `kafkalab chaos pause notification` does) while orders keep coming, until
its group `kafkalab-notification` is 100 records behind, and for 15 s more. Your alert must fire
for that group before the pause ends; then notification is resumed.

What the scrape finds (`kafkalab lesson 19 --explain`, “Lag: who can report it”):
- `kafkalab_consumergroup_lag{group, topic, partition}`: the platform endpoint's, read from the
  broker (committed offset to end offset), one series per partition a group has committed on;
- `kafkalab_consumer_lag{topic, partition}`: each service's own view, from its /metrics;
- `up{endpoint}`: 1 when the endpoint answered the scrape, 0 when it did not.
"""

from pathlib import Path

import yaml

from kafkalab.exercise import setup

lab = setup()

# A Prometheus rule file, the format of kafkalab/monitoring/alerts.yml: `promtool check rules`
# would accept it, and a real Prometheus would load it from its `rule_files:`.
RULES = """\
groups:
  - name: lesson19
    rules:
      - alert: ConsumerGroupBehind
        # One sample per group: its partitions' lag added up. Read from the broker, so a
        # paused consumer, which cannot answer its own scrape, still shows its lag.
        expr: sum by (group) (kafkalab_consumergroup_lag) > 50
        # Over 50 for 5 s: a healthy group's lag between two commits passes sooner.
        for: 5s
        labels:
          severity: warning
        annotations:
          summary: "consumer group {{ $labels.group }} is {{ $value }} records behind"
"""

document = yaml.safe_load(RULES)  # a YAML mistake stops here, with its line and column
Path(lab.params["rule_file"]).write_text(RULES)
print(f"wrote {len(document['groups'][0]['rules'])} rule(s) to {lab.params['rule_file']}")
