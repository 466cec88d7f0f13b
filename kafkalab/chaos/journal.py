"""Every `kafkalab chaos …` command, noted as it starts: what, at whom, when.

A lesson's break (`kafkalab lesson N --break`) can ask the learner to type a chaos command in a
second terminal while its grader watches; the grader recognises the command here rather than
guessing it from its effects. One JSON line per command in `<data dir>/chaos/journal.jsonl`.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkalab.settings import Settings

KEEP = 200
"""Lines kept: the journal is a short memory, not a log."""


@dataclass(frozen=True)
class Entry:
    at: float  # epoch seconds
    action: str
    target: str
    replica: int = 0
    every: float | None = None
    during_load: int | None = None
    no_load: bool = False
    """A bare fault (`--no-load`): nothing runs meanwhile, and a pause stays until resumed."""

    @property
    def command(self) -> str:
        words = ["kafkalab", "chaos", self.action, self.target]
        if self.replica:
            words += ["--replica", str(self.replica)]
        if self.during_load is not None:
            words += ["--during-load", str(self.during_load)]
        if self.no_load:
            words.append("--no-load")
        if self.every is not None:
            words += ["--every", f"{self.every:g}"]
        return " ".join(words)


def path(settings: Settings) -> Path:
    return settings.data_dir / "chaos" / "journal.jsonl"


def awaited_path(settings: Settings) -> Path:
    """Present while a lesson's break waits for a command: the command it waits for."""
    return settings.data_dir / "chaos" / "awaited"


def awaited(settings: Settings) -> str | None:
    """The command a `kafkalab lesson N --break` is waiting for right now, if any."""
    try:
        return awaited_path(settings).read_text().strip() or None
    except OSError:
        return None


def note(settings: Settings, entry: Entry) -> None:
    """Append `entry` (the journal keeps its last KEEP lines); never fails the command."""
    file = path(settings)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        lines = file.read_text().splitlines()[-(KEEP - 1) :] if file.is_file() else []
        file.write_text("\n".join([*lines, json.dumps(asdict(entry))]) + "\n")
    except OSError:
        return


def since(settings: Settings, at: float) -> list[Entry]:
    """The commands started at or after `at` (epoch seconds), oldest first."""
    try:
        lines = path(settings).read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            entry = Entry(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if entry.at >= at:
            found.append(entry)
    return found


def parse(command: str) -> Entry:
    """A `kafkalab chaos ACTION TARGET [--replica N] [--during-load N | --no-load] [--every S]`
    line as an entry (at 0); ValueError when it is not one."""
    words = shlex.split(command)
    if words[:2] != ["kafkalab", "chaos"] or len(words) < 4:
        raise ValueError(f"not a `kafkalab chaos ACTION TARGET` command: {command!r}")
    options: dict[str, str] = {}
    rest = words[4:]
    no_load = "--no-load" in rest
    rest = [word for word in rest if word != "--no-load"]
    if no_load and "--during-load" in rest:
        raise ValueError(f"--no-load and --during-load ask for opposite things: {command!r}")
    while rest:
        flag, *rest = rest
        if flag not in ("--replica", "-r", "--during-load", "--every") or not rest:
            raise ValueError(f"{flag!r} is not an option a break can wait for: {command!r}")
        value, *rest = rest
        options[flag] = value
    return Entry(
        at=0.0,
        action=words[2],
        target=words[3],
        replica=int(options.get("--replica", options.get("-r", "0"))),
        every=float(options["--every"]) if "--every" in options else None,
        during_load=int(options["--during-load"]) if "--during-load" in options else None,
        no_load=no_load,
    )


def matches(wanted: Entry, seen: Entry) -> bool:
    """`seen` is the command `wanted` names: same action, target and replica, and each option
    `wanted` gives: `--every` the same, `--during-load` any load at all, `--no-load` none (a
    break that asks for `--every 3` is not met by a single fault, nor one that asks for a bare
    pause by a pause that a load ends)."""
    return (
        (seen.action, seen.target, seen.replica) == (wanted.action, wanted.target, wanted.replica)
        and (wanted.every is None or seen.every == wanted.every)
        and (wanted.during_load is None or seen.during_load is not None)
        and (not wanted.no_load or seen.during_load is None)
    )
