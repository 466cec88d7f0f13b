"""Alerts evaluated live from the platform's /metrics: what `kafkalab alerts` and the dashboard use.

Each `sample()` scrapes every target once, adds the scrape to a history as long as the rules'
widest range (rate(x[5m]) needs five minutes of it), and evaluates the rules on it.
"""

from __future__ import annotations

import time
from pathlib import Path

from kafkalab.catalogue.metrics import BROKER
from kafkalab.errors import KafkalabError
from kafkalab.monitoring.rules import Alert, AlertEngine, load_rules
from kafkalab.monitoring.scrape import History, Target, scrape_all


class NothingAnswers(KafkalabError):
    """Every endpoint down at the first scrape: the platform is not running (or elsewhere)."""

    hint = "start the platform with `kafkalab up` (same KAFKALAB_SERVICE_PORT as its services)"


class LiveAlerts:
    """The rules evaluated over a growing history of scrapes of `found` (the endpoints of the
    running platform: `platform.control.scrape_targets`)."""

    def __init__(self, found: list[Target], rule_file: Path | None = None) -> None:
        self.engine = AlertEngine(load_rules(rule_file))
        self.history = History(keep=self.engine.history_seconds + 15)
        self.targets = found

    def sample(self) -> list[Alert]:
        scrape = scrape_all(self.targets)
        if not self.history.scrapes and not any(v for _, v in scrape.series.get("up", [])):
            ours = [t for t in self.targets if t.endpoint != BROKER] or self.targets
            first, last = ours[0], ours[-1]
            raise NothingAnswers(
                f"no kafkalab endpoint answers /metrics on {first.host}:"
                f"{min(t.port for t in ours)}–{max(t.port for t in ours)}"
                f" ({first.endpoint} … {last.endpoint})"
            )
        self.history.add(scrape)
        return self.engine.evaluate(self.history, self.history.now)

    def once(self, spacing: float) -> list[Alert]:
        """Two scrapes `spacing` seconds apart (a rate needs two samples), then the verdict."""
        self.sample()
        time.sleep(spacing)
        return self.sample()
