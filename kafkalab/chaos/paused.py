"""Which replicas `kafkalab chaos pause` left paused, and since when.

A paused consumer's events are waiting, not lost, so the invariant checker judges a pause only
after `chaos resume`: the pause time kept here is where that check's window starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from kafkalab.platform import files
from kafkalab.settings import Settings


def _file(settings: Settings) -> Path:
    return files.platform_dir(settings) / "paused.json"


def _read(settings: Settings) -> dict[str, int]:
    try:
        raw = json.loads(_file(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {str(label): int(ms) for label, ms in raw.items()}


def remember(settings: Settings, label: str, at_ms: int) -> None:
    """`label` (e.g. notification-0) was paused at `at_ms`; an earlier pause time is kept."""
    paused = _read(settings)
    paused.setdefault(label, at_ms)
    files.write_json(_file(settings), paused)


def forget(settings: Settings, label: str) -> int | None:
    """When `label` was paused (None if kafkalab did not see it paused); forgets it."""
    paused = _read(settings)
    since = paused.pop(label, None)
    if since is not None:
        files.write_json(_file(settings), paused)
    return since
