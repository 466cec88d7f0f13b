"""`kafkalab lesson N --break` without a broker: the stanza, recognising the flip, judging a
run, the "broke" mark in progress, the refusals, and the chaos journal a command break reads.

The breaks themselves run on the real cluster in tests/integration/test_exercises.py."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kafkalab.chaos import journal
from kafkalab.curriculum import breaks, manifest, predictions, progress, workspace
from kafkalab.curriculum.exercises import ExerciseResult, ProgramFailed
from kafkalab.curriculum.lab import Armed
from kafkalab.curriculum.manifest import BreakInfo, Lesson, ManifestError
from kafkalab.settings import load_settings
from kafkalab.verdict import Check
from tests.helpers import CliRun, run_cli

LESSONS = manifest.load()
WITH_BREAK = [x for x in LESSONS if x.breaking is not None]
FLIP_BREAKS = [x for x in WITH_BREAK if x.breaking and (x.breaking.flip or x.breaking.remove)]
"""The breaks made by editing exercise.py (the others are a typed `kafkalab chaos` command)."""
FLIPS = Path(__file__).resolve().parents[1] / "breaks"

STANZA = """
[[lesson]]
number = 1
slug = "one"
title = "One"
part = "foundation"
hint = "h"

[lesson.exercise]
hints = ["a", "b", "c"]

[lesson.break]
do = "set `x` to  True."
flip = '''x\\s*=\\s*True'''
fails = "x holds"
also = ["y holds"]
shows = "It broke {n} things."
undo = "set x back."
{extra}
[[lesson.break.predict]]
key = "n"
ask = "How many?"
why = "Because."
"""


def _manifest(tmp_path: Path, extra: str = "", **replace: str) -> Path:
    text = STANZA.replace("{extra}", extra)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "lessons.toml"
    path.write_text(text)
    return path


def test_a_break_stanza_is_typed_data(tmp_path: Path) -> None:
    (lesson,) = manifest.load(_manifest(tmp_path))
    info = lesson.breaking
    assert info is not None
    assert info.do == "set `x` to True."  # whitespace folded, as TOML's long lines need
    assert (info.flip, info.remove, info.command) == (r"x\s*=\s*True", "", "")
    assert (info.fails, info.also, info.undo) == ("x holds", ("y holds",), "set x back.")
    assert [q.key for q in info.questions] == ["n"]
    assert info.wait == 120


def test_a_lesson_without_a_break_stanza_has_none() -> None:
    assert {7, 8, 10, 16} <= {x.number for x in WITH_BREAK}
    assert manifest.find(9, LESSONS).breaking is None


def test_a_bad_break_stanza_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="flip is not a valid regular expression"):
        manifest.load(_manifest(tmp_path, **{"x\\s*=\\s*True": "x(("}))
    with pytest.raises(ManifestError, match="neither how to recognise the flip"):
        manifest.load(_manifest(tmp_path, **{"flip = ": "# flip = "}))
    with pytest.raises(ManifestError, match="without a valid 'fails'"):
        manifest.load(_manifest(tmp_path, **{'fails = "x holds"': ""}))


def test_comments_and_the_docstring_are_not_code() -> None:
    text = '"""Set "enable.auto.commit": True here."""\n\nconf = {\n    # "a": True,\n    "b": 1,  # "c"\n}\n'
    code = breaks.code_of(text)
    assert "enable.auto.commit" not in code and '"a"' not in code and '"c"' not in code
    assert '"b": 1,' in code
    assert len(code.splitlines()) == len(text.splitlines())  # line numbers stay where they were
    assert breaks.code_of("def (:\n") == "def (:\n"  # does not tokenize: taken as it is


def _flipped_solution(lesson: Lesson) -> str:
    """The solution with tests/breaks/NN-slug.toml's edits: the break as a learner makes it."""
    text = workspace.solution(lesson).read_text()
    for edit in tomllib.loads((FLIPS / f"{lesson.directory.name}.toml").read_text())["edit"]:
        assert text.count(edit["find"]) == 1, edit
        text = text.replace(edit["find"], edit["replace"])
    return text


@pytest.mark.parametrize("lesson", FLIP_BREAKS, ids=lambda x: f"{x.number:02d}")
def test_the_flip_tells_the_broken_file_from_the_solution(lesson: Lesson) -> None:
    info = lesson.breaking
    assert info is not None
    assert not breaks.flipped(info, workspace.solution(lesson).read_text())
    assert breaks.flipped(info, _flipped_solution(lesson))


def test_a_flip_left_in_a_comment_is_not_a_flip() -> None:
    lesson = manifest.find(16, LESSONS)
    assert lesson.breaking is not None
    mentioned = workspace.solution(lesson).read_text() + "\n# use_changelog_topics=False\n"
    assert not breaks.flipped(lesson.breaking, mentioned)


def test_removing_a_setting_by_commenting_it_out_is_a_flip() -> None:
    lesson = manifest.find(8, LESSONS)
    assert lesson.breaking is not None
    text = workspace.solution(lesson).read_text()
    commented = text.replace('"enable.auto.commit": False,', '# "enable.auto.commit": False,')
    assert breaks.flipped(lesson.breaking, commented)  # librdkafka's default is true


INFO = BreakInfo(
    do="flip x",
    fails="x holds",
    shows="broke {n}, saw {missing}",
    undo="unflip x",
    questions=(manifest.Question("n", "How many?", (), "why"),),
    also=("y holds",),
    flip="x",
)
LESSON = Lesson(1, "one", "One", "foundation", "h", (), ("cluster",), False, None, INFO)


def _result(*checks: Check, truths: dict[str, Any] | None = None) -> ExerciseResult:
    truths = truths or {}
    scored = predictions.score(INFO.questions, ["3"], truths)
    ran = Check("your program ran", True, "")
    return ExerciseResult(1, "One", Path("x.py"), [ran, *checks], False, 1.0, scored, "", truths)


def test_a_break_shows_when_its_named_check_fails() -> None:
    judged = breaks.judge(
        LESSON,
        _result(
            Check("x holds", False, "3 lost"),
            Check("y holds", False, "expected"),
            Check("z holds", False, "not the break's"),
            truths={"n": 3},
        ),
    )
    assert judged.broke and judged.failed is not None and judged.failed.detail == "3 lost"
    assert [c.name for c in judged.also] == ["z holds"]  # "y holds" is the break's, said so
    assert judged.shows == "broke 3, saw {missing}"
    assert judged.predictions[0].right is True


def test_a_break_that_did_not_show_or_crashed_is_not_broke() -> None:
    held = breaks.judge(LESSON, _result(Check("x holds", True, "fine")))
    assert not held.broke and held.failed is not None and held.failed.ok
    crashed = ExerciseResult(
        1, "One", Path("x.py"), [Check("your program ran", False, "line 3")], False, 1, [], ""
    )
    judged = breaks.judge(LESSON, crashed)
    assert not judged.broke and judged.failed is None and judged.also == []


def test_progress_keeps_the_break_apart_and_old_files_still_read(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    path = tmp_path / "lessons" / "progress.json"
    path.parent.mkdir()
    old = {"8": {"demo": None, "exercise": {"status": "passed", "at": "t", "seconds": 1.0}}}
    path.write_text(json.dumps(old))
    assert not progress.broke(progress.load(settings), 8)
    progress.record_break(settings, 8)
    every = progress.load(settings)
    assert progress.broke(every, 8) and not progress.broke(every, 7)
    assert progress.exercise_status(every, 8) == progress.PASSED  # the pass stands


def _cli(*args: str, data_dir: Path, workspace_dir: Path | None = None) -> CliRun:
    env = {"KAFKALAB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    if workspace_dir is not None:
        env["KAFKALAB_WORKSPACE"] = str(workspace_dir)
    return run_cli(*args, env=env)


def test_lessons_shows_the_break_mark(tmp_path: Path) -> None:
    progress.record_break(load_settings(data_dir=tmp_path), 8)
    listed = _cli("lessons", "--json", data_dir=tmp_path)
    assert listed.code == 0, listed.stderr
    by_number = {x["number"]: x for x in json.loads(listed.stdout)}
    assert by_number[8]["broke"] is True and by_number[10]["broke"] is False
    assert by_number[9]["broke"] is None  # no break to try
    table = _cli("lessons", data_dir=tmp_path)
    assert "broke it" in table.stdout and "break" in table.stdout


def test_a_break_without_its_flip_is_refused_in_one_sentence(tmp_path: Path) -> None:
    lesson = manifest.find(8, LESSONS)
    ws = tmp_path / "ws"
    mine = ws / lesson.directory.name / workspace.EXERCISE
    mine.parent.mkdir(parents=True)
    mine.write_text(workspace.solution(lesson).read_text())  # passing, not broken
    done = _cli("lesson", "8", "--break", data_dir=tmp_path / "data", workspace_dir=ws)
    assert done.code == 1
    assert "Traceback" not in done.stderr
    assert f"{mine} does not carry lesson 8's break yet" in done.stderr
    assert '"enable.auto.commit": True' in done.stderr and "--break` again" in done.stderr
    assert not progress.broke(progress.load(load_settings(data_dir=tmp_path / "data")), 8)


def test_a_lesson_without_a_break_says_so(tmp_path: Path) -> None:
    done = _cli("lesson", "9", "--break", data_dir=tmp_path)
    assert done.code == 1
    assert "lesson 9 has no break to try" in done.stderr and "Traceback" not in done.stderr


def test_the_journal_parses_and_matches_chaos_commands(tmp_path: Path) -> None:
    wanted = journal.parse("kafkalab chaos pause payment --replica 1 --during-load 50")
    assert (wanted.action, wanted.target, wanted.replica, wanted.during_load) == (
        "pause",
        "payment",
        1,
        50,
    )
    seen = journal.Entry(1.0, "pause", "payment", 1, None, 200)
    assert journal.matches(wanted, seen)  # any load will do
    assert not journal.matches(wanted, journal.Entry(1.0, "pause", "payment", 1))
    assert not journal.matches(journal.parse("kafkalab chaos kill order --every 3"), seen)
    for bad in ("kafkalab load --orders 5", "kafkalab chaos kill order --docker"):
        with pytest.raises(ValueError):
            journal.parse(bad)
    assert seen.command == "kafkalab chaos pause payment --replica 1 --during-load 200"
    # A bare pause stays until resumed; a loaded one is resumed by the run after the eviction.
    bare = journal.parse("kafkalab chaos pause notification --no-load")
    assert bare.no_load and bare.during_load is None
    assert journal.matches(bare, journal.Entry(1.0, "pause", "notification", no_load=True))
    assert not journal.matches(bare, journal.Entry(1.0, "pause", "notification", 0, None, 200))
    assert bare.command == "kafkalab chaos pause notification --no-load"
    with pytest.raises(ValueError, match="opposite"):
        journal.parse("kafkalab chaos pause notification --no-load --during-load 5")


def test_every_command_break_waits_for_a_command_a_break_can_recognise() -> None:
    commands = [x for x in WITH_BREAK if x.breaking and x.breaking.command]
    assert commands, "lesson 19's break is a typed command"
    for lesson in commands:
        assert lesson.breaking is not None
        assert journal.parse(lesson.breaking.command).action in ("kill", "pause", "restart")
        # nothing to edit: the learner's working file runs as it is
        flips = tomllib.loads((FLIPS / f"{lesson.directory.name}.toml").read_text())
        assert flips["edit"] == []


def test_the_chaos_command_notes_itself_even_when_it_fails(tmp_path: Path) -> None:
    before = time.time()
    done = _cli("chaos", "kill", "payment", data_dir=tmp_path)
    assert done.code == 1  # nothing runs here
    (entry,) = journal.since(load_settings(data_dir=tmp_path), before)
    assert (entry.action, entry.target, entry.replica) == ("kill", "payment", 0)


def test_a_command_the_break_does_not_wait_for_is_told_so(tmp_path: Path) -> None:
    """Lesson 19 waits for a bare pause: a loaded one (it ends at the eviction) is not it."""
    settings = load_settings(data_dir=tmp_path)
    journal.awaited_path(settings).parent.mkdir(parents=True)
    journal.awaited_path(settings).write_text("kafkalab chaos pause notification --no-load\n")
    loaded = _cli("chaos", "pause", "notification", data_dir=tmp_path)
    said = " ".join((loaded.stdout + loaded.stderr).split())
    assert "waits for `kafkalab chaos pause notification --no-load`, not this command" in said
    bare = _cli("chaos", "pause", "notification", "--no-load", data_dir=tmp_path)
    assert "is watching: it measures what this does" in " ".join(
        (bare.stdout + bare.stderr).split()
    )


def _lab(tmp_path: Path, command: str, wait: float) -> Any:
    info = BreakInfo("type it", "x", "s", "u", command=command, wait=wait)
    armed = Armed(info, load_settings(data_dir=tmp_path), time.time())
    return SimpleNamespace(breaking=armed, lesson=LESSON, say=lambda _text: None)


def test_a_command_break_waits_for_the_learner_to_type_it(tmp_path: Path) -> None:
    lab = _lab(tmp_path, "kafkalab chaos pause payment", wait=30)
    settings = lab.breaking.home

    def learner() -> None:
        while journal.awaited(settings) is None:
            time.sleep(0.05)
        journal.note(settings, journal.Entry(time.time(), "kill", "payment"))  # not that one
        journal.note(settings, journal.Entry(time.time(), "pause", "payment"))

    thread = threading.Thread(target=learner, daemon=True)
    thread.start()
    seen = breaks.await_command(lab)
    thread.join(5)
    assert seen.action == "pause"
    assert journal.awaited(settings) is None  # the note is gone once it is typed


def test_a_command_never_typed_is_a_check_that_says_so(tmp_path: Path) -> None:
    lab = _lab(tmp_path, "kafkalab chaos pause payment", wait=0.3)
    with pytest.raises(ProgramFailed) as failed:
        breaks.await_command(lab)
    assert failed.value.check.name == "you typed the break's command"
    assert "kafkalab chaos pause payment" in failed.value.check.detail
