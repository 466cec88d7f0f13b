"""quixstreams Applications for the stream-processing lessons, built so a demo cannot hang.

`Application.run()` without a stop condition runs forever (that is what a service wants). A
lesson wants the opposite: process what it produced, then return. `run_bounded()` gives run()
both of quixstreams' stop conditions (a count of outputs, an idle timeout) and adds a hard
deadline on top, enforced by a watchdog thread calling `app.stop()`, so a rebalance that never
completes or a wrong count still ends the demo. quixstreams installs SIGINT/SIGTERM handlers
when run() starts (allowed on the main thread only); the previous handlers are put back after.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Message, TopicPartition
from quixstreams import Application

from kafkalab import clients
from kafkalab.curriculum.lab import Lab, LessonSetupFailed


def state_dir(lab: Lab) -> Path:
    """Where this run's RocksDB stores live: under the data dir, one folder per lesson run
    (earlier runs' folders are removed: nothing reads them again)."""
    mine = _state_dir(lab)
    _forget_earlier_runs(lab)
    return mine


def _state_dir(lab: Lab) -> Path:
    return lab.settings.data_dir / "lessons-state" / f"lesson{lab.lesson.number:02d}" / lab.run_id


def _forget_earlier_runs(lab: Lab) -> None:
    """Earlier runs' stores belong to groups and changelogs that `--reset` removes anyway."""
    mine = _state_dir(lab)
    if mine.parent.is_dir():
        for other in mine.parent.iterdir():
            if other != mine:
                shutil.rmtree(other, ignore_errors=True)


def application(lab: Lab, group: str, **options: Any) -> Application:
    """An Application on the lab's broker, reading from the earliest offset (quixstreams'
    default is `latest`, which would skip the records a demo produced before starting it)."""
    _forget_earlier_runs(lab)
    settings: dict[str, Any] = {
        "broker_address": clients.quix_connection(lab.conn),
        "consumer_group": group,
        "auto_offset_reset": "earliest",
        "state_dir": str(state_dir(lab)),
        "loglevel": None,  # no handler of its own: warnings surface, INFO chatter does not
        "consumer_extra_config": {"fetch.wait.max.ms": 100},  # faster start on few records
    }
    settings.update(options)
    return Application(**settings)


def run_bounded(app: Application, count: int, idle: float = 10.0, deadline: float = 90.0) -> int:
    """Run `app` until it emitted `count` outputs (0: no count), saw nothing new for `idle`
    seconds, or `deadline` seconds passed; returns how many outputs it emitted."""
    if threading.current_thread() is not threading.main_thread():
        raise LessonSetupFailed("a quixstreams lesson must run on the main thread")
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    finished = threading.Event()

    def watchdog() -> None:
        if not finished.wait(deadline):
            app.stop()  # what SIGTERM would do: finish the current message, commit, return

    threading.Thread(target=watchdog, name="quix-deadline", daemon=True).start()
    try:
        outputs = app.run(count=count, timeout=idle, collect=True)
    finally:
        finished.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return len(outputs)


def read_all(lab: Lab, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every record on `topic` up to its end offsets as of now (what an app has written),
    partition by partition in offset order; no group, nothing committed."""
    consumer = lab.consumer(lab.group("read-all"), **{"enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in partitions
        }
        wanted = {p: high for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in wanted])
        found: list[Message] = []
        deadline = time.monotonic() + timeout
        while wanted and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:  # a transaction marker can be the last offset: ask positions
                for tp in consumer.position([TopicPartition(topic, p) for p in list(wanted)]):
                    if tp.offset >= wanted[tp.partition]:
                        wanted.pop(tp.partition)
                continue
            if message.error():
                continue
            found.append(message)
            if message.offset() + 1 >= wanted.get(message.partition(), 0):
                wanted.pop(message.partition(), None)
        return sorted(found, key=lambda m: (m.partition(), m.offset()))
    finally:
        consumer.close()
