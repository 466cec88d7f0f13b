"""Scenarios: declarative stories (steps + expectations) in TOML, run by one engine.

The built-in ones are the top-level `scenarios/` folder (shipped in the wheel too); a user adds
one without code by dropping a `.toml` file in `./scenarios/` or in the folder named by the
`scenarios_dir` setting (KAFKALAB_SCENARIOS_DIR).

One built-in is a different shape: `high-load` is driven by a load of orders rather than a few
user steps, so it is Python (highload.py) — listed and run by the same `kafkalab scenario`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkalab import content
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.settings import Settings

KNOWN_ACTIONS = {"register", "login", "preferences", "order"}
KNOWN_EXPECTATIONS = {
    "order_status",
    "status_path",
    "payments_completed",
    "payments_failed",
    "stock_committed",
    "stock_released",
    "notifications_sent",
    "notification_template",
    "notification_channels",
    "channels_opted_out",
    "analytics_updated",
    "order_http_status",
}


class ScenarioFileError(KafkalabError):
    hint = "see the built-in scenarios (`kafkalab scenario`) for the format"


@dataclass
class Scenario:
    name: str
    title: str
    description: str
    steps: list[dict[str, Any]]
    expect: dict[str, Any]
    source: str = ""
    timeout: float = field(default=60.0)
    runner: str = "steps"
    """"steps": the TOML engine (engine.py); "load": the high-load scenario (highload.py)."""


HIGH_LOAD = Scenario(
    name="high-load",
    title="2,000 orders; payment scaled 1 → 3 mid-run, a gateway outage opens and closes the "
    "circuit breaker, the lag autoscaler on",
    description="",
    steps=[],
    expect={},
    source="built-in highload.py",
    runner="load",
)


def _user_folders(settings: Settings) -> list[Path]:
    """`./scenarios/` and the `scenarios_dir` setting, minus the built-in folder itself (in a
    checkout, `./scenarios/` is the built-in folder)."""
    folders = [Path.cwd() / "scenarios"]
    if settings.scenarios_dir:
        folders.append(settings.scenarios_dir)
    built_in = content.scenarios_dir().resolve()
    return [f for f in folders if f.is_dir() and f.resolve() != built_in]


def parse(text: str, source: str) -> Scenario:
    """A Scenario from TOML text, or ScenarioFileError naming what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioFileError(f"{source} is not valid TOML: {exc}") from exc
    for key in ("name", "steps", "expect"):
        if key not in raw:
            raise ScenarioFileError(f"{source} has no '{key}'")
    for step in raw["steps"]:
        if step.get("action") not in KNOWN_ACTIONS:
            raise ScenarioFileError(
                f"{source}: unknown action {step.get('action')!r} (known: {', '.join(sorted(KNOWN_ACTIONS))})"
            )
    unknown = set(raw["expect"]) - KNOWN_EXPECTATIONS
    if unknown:
        raise ScenarioFileError(
            f"{source}: unknown expectation(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(KNOWN_EXPECTATIONS))})"
        )
    return Scenario(
        name=str(raw["name"]),
        title=str(raw.get("title", raw["name"])),
        description=str(raw.get("description", "")).strip(),
        steps=list(raw["steps"]),
        expect=dict(raw["expect"]),
        source=source,
        timeout=float(raw.get("timeout", 60.0)),
    )


def load_all(settings: Settings) -> dict[str, Scenario]:
    """Built-in scenarios, then the user's (a user file of the same name wins)."""
    found: dict[str, Scenario] = {HIGH_LOAD.name: HIGH_LOAD}
    for path in sorted(content.scenarios_dir().glob("*.toml")):
        scenario = parse(path.read_text(), f"built-in {path.name}")
        found[scenario.name] = scenario
    for folder in _user_folders(settings):
        for path in sorted(folder.glob("*.toml")):
            scenario = parse(path.read_text(), str(path))
            found[scenario.name] = scenario
    return found


def get(settings: Settings, name: str) -> Scenario:
    scenarios = load_all(settings)
    if name not in scenarios:
        raise InvalidChoice(
            f"unknown scenario '{name}'", hint=f"choose one of: {', '.join(sorted(scenarios))}"
        )
    return scenarios[name]
