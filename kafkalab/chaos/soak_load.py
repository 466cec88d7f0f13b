"""The soak's load, in a process of its own: `python -m kafkalab.chaos.soak_load ORDERS RATE DIR`.

Why a process: a crash of the load's librdkafka clients must not take the soak, which
restores the brokers and judges the orders, down with it. One did: SIGSEGV in librdkafka's main
thread under broker faults, from the lag sampler's admin ListConsumerGroupOffsets (librdkafka
#5040; `observe/committed.py` now reads committed offsets another way). Here `run_load` has the
main thread to itself, as in `kafkalab load`, and a death is seen and reported by the soak.

It writes its latest progress to DIR/progress.json, and its figures to DIR/load.json at the
end. SIGTERM (or SIGINT) ends the sending early: the accepted orders are drained and counted.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kafkalab.chaos.runner import LoadTally
from kafkalab.cluster import connect
from kafkalab.errors import KafkalabError
from kafkalab.load.driver import Progress, run_load
from kafkalab.settings import load_settings

USERS = 10


def main(argv: list[str]) -> int:
    orders, rate, folder = int(argv[0]), float(argv[1]), Path(argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def progress(p: Progress) -> None:
        _write(folder / "progress.json", {"phase": p.phase, "accepted": p.accepted})

    settings = load_settings()
    try:
        report = run_load(
            settings,
            connect.resolve(settings),
            orders=orders,
            rate=rate,
            users=USERS,
            progress=progress,
            stop=stop,
        )
    except KafkalabError as exc:
        _write(folder / "load.json", {"error": exc.message})
        return 1
    _write(
        folder / "load.json",
        {
            "tally": asdict(LoadTally.of(report)),
            "lost": report.lost,
            "order_ids": report.order_ids,
            "started_ms": report.started_ms,
        },
    )
    return 0


def _write(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: the soak may read the file at any moment."""
    part = path.with_suffix(".part")
    part.write_text(json.dumps(data))
    part.replace(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
