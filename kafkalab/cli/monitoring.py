"""`kafkalab monitoring up|down|status`: a real Prometheus over the platform, on :9090."""

from __future__ import annotations

from typing import Annotated

import typer

from kafkalab import ui
from kafkalab.platform import monitoring
from kafkalab.settings import load_settings

app = typer.Typer(
    help="A real Prometheus scraping every service and broker, with kafkalab's alert rules.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


@app.command()
def up(json: JsonOption = False) -> None:
    """Start Prometheus on 127.0.0.1:9090 (KAFKALAB_PROMETHEUS_PORT) over the running platform.

    It scrapes every service replica, the platform's consumer-lag endpoint and each broker's
    JMX exporter agent every 5 s, and evaluates kafkalab/monitoring/alerts.yml; `kafkalab
    alerts` then asks it. Running it again (after `kafkalab scale`, say) reloads the targets."""
    found = monitoring.up(load_settings(), notify=None if json else ui.step)
    if json:
        ui.print_json(found)
        return
    show(found)


@app.command()
def down() -> None:
    """Stop kafkalab's Prometheus (its samples stay in the data dir for the next start)."""
    stopped = monitoring.down(load_settings())
    ui.success("Prometheus stopped" if stopped else "Prometheus was not running")


@app.command()
def status(json: JsonOption = False) -> None:
    """Whether Prometheus runs, each scrape target's health, and the rules it loaded."""
    found = monitoring.status(load_settings())
    if json:
        ui.print_json(found)
        return
    if not found.running:
        ui.out.print(f"Prometheus is not running ({found.url}) — `kafkalab monitoring up`")
        return
    show(found)


def show(found: monitoring.MonitoringStatus) -> None:
    ui.table(
        f"Prometheus {found.url}: scrape targets",
        ["job", "endpoint", "instance", "health", "last error"],
        [
            [t.job, t.endpoint, t.instance, f"{ui.mark(t.health == 'up')} {t.health}", t.error]
            for t in found.targets
        ],
    )
    healthy = sum(1 for r in found.rules if r.health == "ok")
    ui.success(
        f"Prometheus at {found.url} (pid {found.pid}): {found.targets_up}/{len(found.targets)} "
        f"targets up, {len(found.rules)} alert rules loaded ({healthy} evaluating fine) — "
        "`kafkalab alerts` asks it"
    )
