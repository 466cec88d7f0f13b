"""What an exercise file imports: the topics, groups and client settings its lesson prepared.

A learner's `exercise.py` is written against the real client APIs (confluent-kafka's Producer,
Consumer and AdminClient, the Avro serializers, quixstreams); only the set-up that is not the
lesson — the bootstrap address, the registry URL, this run's topic names — comes from here:

    from kafkalab.exercise import setup

    lab = setup()
    producer = Producer(lab.config)
    producer.produce(lab.topic("orders"), key=b"order-1", value=b"...")

`kafkalab lesson N` prepares the topics, writes them to `<data dir>/exercises/NN.json`, runs
the file through this module (`python -m kafkalab.exercise SPEC FILE RESULT`) and grades what
reached the broker. Run by hand (`python exercise.py`), the file reuses the last prepared run.

The launcher reports a learner's exception as data — their file, line and code — so kafkalab can
point at their line instead of printing a traceback through its own frames. This module imports
nothing heavy: it runs in every exercise process.
"""

from __future__ import annotations

import inspect
import json
import re
import runpy
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPEC_FOLDER = "exercises"


@dataclass(frozen=True)
class Setup:
    """One prepared run of an exercise."""

    lesson: int
    config: dict[str, str]
    """librdkafka connection settings (bootstrap.servers, and security when the cluster has it):
    spread them into a Producer/Consumer/AdminClient config, `{**lab.config, "acks": "all"}`."""
    registry: dict[str, str]
    """SchemaRegistryClient settings (url, and basic auth or a CA when the registry needs them)."""
    topics: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def topic(self, name: str) -> str:
        """This run's full topic name for `name` (e.g. "orders" → "lesson04.orders.3fa2c1")."""
        return _pick("topic", self.topics, name)

    def group(self, name: str) -> str:
        """This run's consumer group id for `name`."""
        return _pick("group", self.groups, name)


class ExerciseNotPrepared(SystemExit):
    """A one-sentence exit (no traceback) when the file is run before its lesson prepared it."""


def _pick(kind: str, known: dict[str, str], name: str) -> str:
    try:
        return known[name]
    except KeyError:
        names = ", ".join(repr(n) for n in known) or "none"
        raise KeyError(f"this exercise has no {kind} {name!r}; its {kind}s are: {names}") from None


_current: Setup | None = None
"""Set by the launcher before it runs the learner's file."""


def setup() -> Setup:
    """The prepared run for the exercise that calls this."""
    if _current is not None:
        return _current
    caller = Path(inspect.stack()[1].filename).resolve()
    number = lesson_of(caller)
    from kafkalab.settings import load_settings  # only when run by hand

    path = spec_path(load_settings().data_dir, number)
    if number is None or not path.is_file():
        lesson = f"kafkalab lesson {number}" if number else "kafkalab lesson N"
        raise ExerciseNotPrepared(
            f"{caller.name} has not been prepared yet: run `{lesson}` — it creates the topics, "
            "runs this file and grades what reached the broker"
        )
    return read_spec(path)


def lesson_of(path: Path) -> int | None:
    """The lesson number from the folder name `NN-slug`."""
    match = re.match(r"(\d+)-", path.parent.name)
    return int(match.group(1)) if match else None


def spec_path(data_dir: Path, lesson: int | None) -> Path:
    return data_dir / SPEC_FOLDER / f"{lesson or 0:02d}.json"


def write_spec(path: Path, spec: Setup) -> None:
    """Written 0600: the config may hold the cluster's SASL password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(asdict(spec), indent=2))


def read_spec(path: Path) -> Setup:
    return Setup(**json.loads(path.read_text()))


@dataclass(frozen=True)
class Failure:
    """How the learner's program ended badly, located in their file."""

    kind: str  # "syntax" or "exception"
    error: str  # "NameError: name 'x' is not defined"
    line: int | None
    code: str


def locate(exc: BaseException, file: Path) -> Failure:
    """The learner's line for an exception: the deepest frame in their file."""
    error = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == file:
        return Failure("syntax", f"SyntaxError: {exc.msg}", exc.lineno, (exc.text or "").strip())
    theirs = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == file]
    if theirs:
        return Failure("exception", error, theirs[-1].lineno, (theirs[-1].line or "").strip())
    return Failure("exception", error, None, "")


def _launch(spec_file: str, program: str, result_file: str) -> int:
    """Run the learner's file as `python program` would, with its Setup preset."""
    from kafkalab import exercise as kit  # this file runs as __main__; the learner imports this

    kit._current = read_spec(Path(spec_file))
    file = Path(program).resolve()
    sys.path.insert(0, str(file.parent))
    sys.argv = [str(file)]
    outcome: dict[str, Any] = {"ok": True}
    try:
        runpy.run_path(str(file), run_name="__main__")
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        if exc.code not in (None, 0):
            outcome = {"ok": False, **asdict(locate(exc, file))}
            outcome["error"] = f"exit status {exc.code}"
    except BaseException as exc:  # the learner's error, whatever it is, reported as data
        outcome = {"ok": False, **asdict(locate(exc, file))}
    Path(result_file).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(_launch(*sys.argv[1:4]))
