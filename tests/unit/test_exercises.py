"""The exercise engine without a broker: the learner's program as a process (their line on a
crash, a stop on an overrun), predictions, progress, hints, the workspace, the CLI's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkalab import exercise as kit
from kafkalab.curriculum import manifest, predictions, progress, workspace
from kafkalab.curriculum.exercises import Program, ProgramFailed
from kafkalab.curriculum.manifest import Question
from kafkalab.errors import InvalidChoice
from kafkalab.settings import load_settings
from tests.helpers import run_cli

LESSON = manifest.find(2)


def _program(tmp_path: Path, body: str, timeout: float = 20) -> Program:
    folder = tmp_path / "02-topics-partitions-keys"
    folder.mkdir(exist_ok=True)
    file = folder / "exercise.py"
    file.write_text(body)
    spec = tmp_path / "spec.json"
    kit.write_spec(spec, kit.Setup(lesson=2, config={"bootstrap.servers": "x"}, registry={}))
    return Program(file, spec, LESSON, timeout=timeout, quiet=True)


def test_a_learners_exception_points_at_their_line(tmp_path: Path) -> None:
    program = _program(
        tmp_path, "from kafkalab.exercise import setup\nlab = setup()\nprint(nope)\n"
    )
    with pytest.raises(ProgramFailed) as failed:
        program.run()
    check = failed.value.check
    assert check.ok is False
    assert "exercise.py line 3: NameError" in check.detail and "print(nope)" in check.detail
    assert "fix line 3 of" in check.fix
    program.close()


def test_a_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    program = _program(tmp_path, "x = 1\nif x\n    pass\n")
    with pytest.raises(ProgramFailed) as failed:
        program.run()
    assert "line 2: SyntaxError" in failed.value.check.detail
    program.close()


def test_the_setup_reaches_the_program_and_its_output_is_kept(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "from kafkalab.exercise import setup\nprint(setup().config['bootstrap.servers'])\n",
    )
    program.run()
    assert program.output.strip() == "x"
    program.close()


def test_an_endless_program_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    program = _program(tmp_path, "import time\nwhile True:\n    time.sleep(0.1)\n", timeout=1)
    with pytest.raises(ProgramFailed) as failed:
        program.run()
    assert "still running after 1 s" in failed.value.check.detail
    assert not program.running()
    program.close()


def test_a_nonzero_exit_is_a_failure(tmp_path: Path) -> None:
    program = _program(tmp_path, "import sys\nsys.exit(3)\n")
    with pytest.raises(ProgramFailed) as failed:
        program.run()
    assert "exit status 3" in failed.value.check.detail
    program.close()


def test_run_by_hand_before_its_lesson_says_what_to_do(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "04-consumers"
    folder.mkdir()
    (folder / "exercise.py").write_text("from kafkalab.exercise import setup\nsetup()\n")
    done = subprocess.run(
        [sys.executable, str(folder / "exercise.py")],
        capture_output=True,
        text=True,
        env={"KAFKALAB_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode != 0
    assert "kafkalab lesson 4" in done.stderr and "Traceback" not in done.stderr


NUMBER = Question("n", "How many?", (), "because")
CHOICE = Question("c", "Which?", ("lost", "doubled", "neither"), "")


def test_predictions_accept_letters_numbers_and_text() -> None:
    assert predictions.parse([NUMBER, CHOICE], "12, b") == ["12", "doubled"]
    assert predictions.parse([NUMBER, CHOICE], "0,3") == ["0", "neither"]
    assert predictions.parse([NUMBER, CHOICE], "7,Lost") == ["7", "lost"]


@pytest.mark.parametrize("given", ["1", "x,a", "1,z", "1,a,b"])
def test_bad_predictions_are_one_sentence(given: str) -> None:
    with pytest.raises(InvalidChoice):
        predictions.parse([NUMBER, CHOICE], given)


def test_predictions_are_scored_against_the_runs_truth() -> None:
    scored = predictions.score([NUMBER, CHOICE], ["3", "lost"], {"n": 3, "c": "doubled"})
    assert [s.right for s in scored] == [True, False]
    assert scored[1].truth == "doubled"
    unasked = predictions.score([NUMBER], None, {"n": 3})
    assert unasked[0].right is None and unasked[0].truth == "3"
    failed_run = predictions.score([NUMBER], ["3"], {})
    assert failed_run[0].right is None


def test_progress_keeps_demo_exercise_predictions_and_hints_apart(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    progress.record(settings, 2, True, 1.0)
    progress.record_exercise(settings, 2, False, 2.0)
    progress.record_predictions(settings, 2, asked=2, right=1)
    assert [progress.take_hint(settings, 2, 3) for _ in range(4)] == [0, 1, 2, 2]
    entry = progress.load(settings)[2]
    assert progress.status(progress.load(settings), 2) == progress.PASSED
    assert progress.exercise_status(progress.load(settings), 2) == progress.FAILED
    assert (entry.predicted, entry.predicted_right, entry.hints) == (2, 1, 3)


def test_progress_from_before_exercises_still_reads(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    path = tmp_path / "lessons" / "progress.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"3": {"status": "passed", "at": "2026-01-01", "seconds": 1.0}}))
    assert progress.status(progress.load(settings), 3) == progress.PASSED
    assert progress.exercise_status(progress.load(settings), 3) == progress.NOT_STARTED


def test_init_copies_the_exercises_and_keeps_the_learners_files(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    every = manifest.load()
    first = workspace.init(settings, tmp_path / "ws", every)
    with_exercise = [x for x in every if workspace.has_exercise(x)]
    assert len(first.created) == len(with_exercise) and not first.kept
    mine = first.created[0]
    mine.write_text("# my work\n")
    again = workspace.init(settings, tmp_path / "ws", every)
    assert mine in again.kept and mine.read_text() == "# my work\n"
    found = workspace.find(settings, cwd=tmp_path)  # by init's pointer, from anywhere
    assert found.root == (tmp_path / "ws").resolve() and not found.in_place
    assert workspace.find(settings, cwd=tmp_path / "ws" / mine.parent.name).root == found.root


def test_reset_restores_the_original_and_keeps_the_learners_copy(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", workspace=tmp_path / "ws")
    found = workspace.find(settings)
    target = found.exercise(LESSON)
    target.parent.mkdir(parents=True)
    target.write_text("# my attempt\n")
    kept = workspace.restore(settings, found, LESSON)
    assert kept is not None and kept.read_text() == "# my attempt\n"
    assert target.read_text() == workspace.pristine(LESSON).read_text()
    assert workspace.restore(settings, found, LESSON) is None


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    done = run_cli(
        *args,
        env={
            "KAFKALAB_DATA_DIR": str(tmp_path / "data"),
            "KAFKALAB_WORKSPACE": str(tmp_path / "ws"),
            "PATH": "/usr/bin:/bin",
        },
    )
    return done.code, done.stdout + done.stderr


def test_hints_come_one_at_a_time(tmp_path: Path) -> None:
    assert LESSON.exercise is not None
    seen = [_cli(tmp_path, "lesson", "2", "--hint")[1] for _ in range(3)]
    assert "hint 1/3" in seen[0] and "hint 2/3" in seen[1] and "hint 3/3" in seen[2]
    assert "--solution" in seen[2].replace("\n", "")


def test_the_solution_waits_for_a_pass_or_a_yes(tmp_path: Path) -> None:
    code, said = _cli(tmp_path, "lesson", "2", "--solution")
    assert code == 1 and "not passed" in said and "Traceback" not in said
    _cli(tmp_path, "init", str(tmp_path / "ws"))
    code, said = _cli(tmp_path, "lesson", "2", "--solution", "--yes")
    assert code == 0, said
    assert "murmur2_random" in said  # the reference's line, in the diff


def test_a_wrong_prediction_flag_is_one_sentence(tmp_path: Path) -> None:
    _cli(tmp_path, "init", str(tmp_path / "ws"))
    code, said = _cli(tmp_path, "lesson", "2", "--predict", "1")
    assert code == 1 and "asks 2 question(s)" in said and "Traceback" not in said


def test_watch_regrades_on_save_and_moves_on_at_a_pass(tmp_path: Path) -> None:
    """The watch loop with a stand-in grader (the real one is run by the integration tests):
    a ✘, then a save, then a ✔ goes on to the next lesson with an exercise."""
    import threading
    import time

    from kafkalab.curriculum import watching

    settings = load_settings(data_dir=tmp_path / "data", workspace=tmp_path / "ws")
    workspace.init(settings, tmp_path / "ws", manifest.load())
    file = workspace.find(settings).exercise(LESSON)
    graded: list[tuple[int, str]] = []

    def grade_once(_: object, lesson: manifest.Lesson) -> bool:
        if lesson.number != 2:
            graded.append((lesson.number, ""))
            return True
        text = workspace.find(settings).exercise(lesson).read_text()
        graded.append((lesson.number, text[:8]))
        return text.startswith("# fixed")

    later = manifest.Lesson(
        number=99,
        slug="later",
        title="Later",
        part="foundation",
        hint="",
        settings=(),
        needs=(),
        slow=False,
    )
    done = threading.Event()

    def run() -> None:
        watching.watch(settings, LESSON, [LESSON, later], grade_once)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not graded and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the watcher is listening
    file.write_text("# fixed\n")
    assert done.wait(10), f"watch did not finish; graded: {graded}"
    assert [n for n, _ in graded] == [2, 2, 99]


def test_dev_check_wants_every_untouched_exercise_to_fail_and_every_solution_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_all's judgement, with a stand-in for the graded run (which the integration tests
    run for real): an untouched file that passes, or a solution that fails, is a problem."""
    from kafkalab.curriculum import devcheck, exercises
    from kafkalab.verdict import Check

    def graded(settings: object, lesson: manifest.Lesson, file: Path, **_: object) -> object:
        solved = file.name == "solution.py"
        ok = solved != (lesson.number == 2)  # lesson 2 gets it backwards
        checks = [Check("effect", ok, "seen")]
        return exercises.ExerciseResult(lesson.number, "", file, checks, ok, 0.0, [], "")

    monkeypatch.setattr(exercises, "run", graded)
    problems = devcheck.run_all(load_settings(data_dir=tmp_path), manifest.load(), lambda _: None)
    assert {p.lesson for p in problems} == {"02-topics-partitions-keys"}
    said = " ".join(p.problem for p in problems)
    assert "untouched exercise.py passes" in said and "solution.py fails: effect: seen" in said
