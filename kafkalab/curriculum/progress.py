"""Which lessons the learner has passed or failed, kept in the data dir between runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafkalab.settings import Settings

NOT_STARTED = "not started"
PASSED = "passed"
FAILED = "failed"


@dataclass(frozen=True)
class Attempt:
    status: str
    at: str
    seconds: float


def _path(settings: Settings) -> Path:
    return settings.data_dir / "lessons" / "progress.json"


def load(settings: Settings) -> dict[int, Attempt]:
    try:
        raw = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {int(number): Attempt(**attempt) for number, attempt in raw.items()}


def record(settings: Settings, number: int, ok: bool, seconds: float) -> None:
    attempts = load(settings)
    attempts[number] = Attempt(
        status=PASSED if ok else FAILED,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(seconds, 1),
    )
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({str(n): asdict(a) for n, a in sorted(attempts.items())}, indent=2))
    tmp.replace(path)


def status(attempts: dict[int, Attempt], number: int) -> str:
    attempt = attempts.get(number)
    return attempt.status if attempt else NOT_STARTED
