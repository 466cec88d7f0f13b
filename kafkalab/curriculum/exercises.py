"""Grade a learner's exercise on the real cluster.

A lesson with an exercise has, beside its demo:
- `exercise.py`: the learner's file, real client APIs with `# TODO`s, set up by
  `kafkalab.exercise.setup()`;
- `solution.py`: a reference solution (shown on request, run by the tests);
- `grade.py`: `prepare(lab) -> Task` creates this run's topics (and seeds records), and
  `grade(lab, task, program) -> Graded` runs the learner's program (`program.run()`, or start /
  kill it to drive a failure) and then judges its effect read back from the broker by its own
  consumer or AdminClient — never from what the program says about itself. `Graded.truths` are
  the answers to the lesson's prediction questions, computed from the same run.

The program is a separate process (`python -m kafkalab.exercise`): a learner's endless loop is
stopped at the lesson's timeout, and their exception comes back as their file and line.

A lesson with a break (`[lesson.break]`, `kafkalab lesson N --break`) runs the learner's file
broken on purpose through the same machinery: grade.py's optional `grade_break(lab, task,
program)` drives it (`grade` when there is none), and `lab.breaking` says which break it is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from kafkalab import exercise as kit
from kafkalab.curriculum import predictions, progress
from kafkalab.curriculum.lab import Armed, Lab, SideCluster, remove_leftovers
from kafkalab.curriculum.manifest import Lesson, ManifestError
from kafkalab.settings import Settings, settings_env
from kafkalab.verdict import Check, passed


@dataclass
class Task:
    """What `prepare` made for this run; topics, groups and params reach the learner's file."""

    topics: dict[str, str]
    groups: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    private: dict[str, Any] = field(default_factory=dict)
    """What the grader keeps to itself (the seeded keys, a timestamp to replay from)."""


@dataclass
class Graded:
    checks: list[Check]
    truths: dict[str, Any] = field(default_factory=dict)
    """Question key → what the broker showed in this run."""


class ProgramFailed(Exception):
    """The learner's program crashed or overran: the check that says where, in their file."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.detail)
        self.check = check


class Program:
    """The learner's file, run as its own process against the prepared task."""

    RAN = "your program ran"

    def __init__(
        self,
        file: Path,
        spec: Path,
        lesson: Lesson,
        timeout: float,
        quiet: bool,
        env: dict[str, str] | None = None,
    ):
        self.file = file
        self.spec = spec
        self.lesson = lesson
        self.timeout = timeout
        self.quiet = quiet
        self.output = ""
        self.seconds = 0.0
        self._process: subprocess.Popen[str] | None = None
        self._result = Path(tempfile.mkstemp(prefix="kafkalab-exercise-", suffix=".json")[1])
        self._started = 0.0
        self.killed = False
        self.env = env
        """KAFKALAB_* settings for the program, so a `kafkalab …` command it runs (lesson 6's
        `kafkalab kafka`) reaches the cluster the lesson prepared."""

    def start(self, **params: Any) -> None:
        """`params`: values in place of the task's for this start and the ones after it (the
        program reads them at its start), e.g. a crash switch on, then off for the restart."""
        if params:
            spec = kit.read_spec(self.spec)
            kit.write_spec(self.spec, replace(spec, params={**spec.params, **params}))
        self._result.write_text("")
        self._started = time.monotonic()
        capture = subprocess.PIPE if self.quiet else None
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kafkalab.exercise", str(self.spec), str(self.file)]
            + [str(self._result)],
            cwd=self.file.parent,
            stdout=capture,
            stderr=subprocess.STDOUT if self.quiet else None,
            text=True,
            env={**os.environ, **self.env} if self.env is not None else None,
        )

    def twin(self, file: Path, groups: dict[str, str]) -> Program:
        """Another program on this run's topics, with its own consumer groups (same names, other
        ids): e.g. the reference solution beside the learner's file, as a measured comparison."""
        spec = self.spec.with_name(f"{self.spec.stem}-twin{self.spec.suffix}")
        mine = kit.read_spec(self.spec)
        kit.write_spec(spec, replace(mine, groups={**mine.groups, **groups}))
        return Program(file, spec, self.lesson, self.timeout, self.quiet, env=self.env)

    def run(self, **params: Any) -> None:
        """Start it and wait for it to end; ProgramFailed when it crashes or overruns."""
        self.start(**params)
        self.wait()

    def wait(self, timeout: float | None = None) -> None:
        process = self._require()
        limit = self.timeout if timeout is None else timeout
        try:
            out, _ = process.communicate(timeout=max(0.1, limit))
        except subprocess.TimeoutExpired:
            self.stop()
            raise ProgramFailed(
                Check(
                    self.RAN,
                    False,
                    f"{self.file.name} was still running after {limit:.0f} s and was stopped",
                    fix="does your program end once it has done its work (a loop with an end, "
                    "then `close()`/`flush()`)?",
                )
            ) from None
        self.output += out or ""
        self.seconds = time.monotonic() - self._started
        failure = self._failure()
        if failure is not None:
            raise ProgramFailed(failure)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no close(), no final commit, no flush."""
        process = self._require()
        if process.poll() is None:
            process.kill()
            self.killed = True
        out, _ = process.communicate()
        self.output += out or ""

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        self.output += out or ""

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process ended (None before): a grader that makes the
        program crash on purpose (`os._exit(N)` at a point it chose) tells that crash from a
        real one by N."""
        return self._process.poll() if self._process is not None else None

    def _require(self) -> subprocess.Popen[str]:
        if self._process is None:
            self.start()
        assert self._process is not None
        return self._process

    def _failure(self) -> Check | None:
        try:
            outcome = json.loads(self._result.read_text() or "{}")
        except ValueError:
            outcome = {}
        if outcome.get("ok"):
            return None
        if not outcome:  # the launcher itself did not finish (killed, or the interpreter died)
            code = self._process.returncode if self._process else None
            return Check(self.RAN, False, f"{self.file.name} ended with exit status {code}")
        line = outcome.get("line")
        where = f"{self.file.name} line {line}" if line else self.file.name
        code = f" — `{outcome['code']}`" if outcome.get("code") else ""
        fix = (
            f"fix line {line} of {self.file}, then run `kafkalab lesson {self.lesson.number}` again"
            if line
            else f"read the error above, then run `kafkalab lesson {self.lesson.number}` again"
        )
        return Check(self.RAN, False, f"{where}: {outcome.get('error')}{code}", fix=fix)

    def close(self) -> None:
        self.stop()
        self._result.unlink(missing_ok=True)


@dataclass
class ExerciseResult:
    number: int
    title: str
    file: Path
    checks: list[Check]
    passed: bool
    seconds: float
    predictions: list[predictions.Scored]
    output: str
    truths: dict[str, Any] = field(default_factory=dict)
    """What the grader computed from the run (the questions' answers, and any other)."""


def grade_module(lesson: Lesson) -> ModuleType:
    from kafkalab.curriculum.runner import load_module

    module = load_module(lesson, "grade")
    for name in ("prepare", "grade"):
        if not callable(getattr(module, name, None)):
            raise ManifestError(f"lesson {lesson.number}'s grade.py does not define {name}()")
    return module


def _grader(module: ModuleType, breaking: Armed | None) -> Any:
    """`grade`, or on a break run `grade_break` when the lesson has one."""
    if breaking is not None and callable(getattr(module, "grade_break", None)):
        return module.grade_break
    return module.grade


def _where(lab: Lab, needs: tuple[str, ...], stack: ExitStack) -> Lab:
    """Start what the exercise needs: the platform, the learner's cluster, or a side cluster of
    another shape ("secure": SASL_SSL with ACLs; "brokers3": three brokers) that lives as long as
    `stack` — the lab returned is then bound to it, and so is the learner's Setup."""
    secure, brokers = "secure" in needs, 3 if "brokers3" in needs else 1
    if secure or brokers > 1:
        side = stack.enter_context(lab.side_cluster(brokers=brokers, secure=secure))
        return lab.on(side)
    if "platform" in needs:
        lab.start_platform()
    else:
        lab.start_cluster()
    return lab


def run(
    settings: Settings,
    lesson: Lesson,
    file: Path,
    quiet: bool = False,
    answers: list[str] | None = None,
    shared: dict[tuple[int, bool], SideCluster] | None = None,
    record: bool = True,
    breaking: Armed | None = None,
) -> ExerciseResult:
    """Prepare the lesson's topics, run `file`, grade its effect, score the predictions.

    `breaking`: the file is the learner's exercise broken on purpose (`--break`): graded by
    `grade_break` when grade.py has one, scored against the break's questions, and never
    recorded as the exercise's result (the learner's pass stands)."""
    info = lesson.exercise
    if info is None:
        raise ManifestError(f"lesson {lesson.number} has no exercise")
    if not file.is_file():
        raise ManifestError(
            f"the exercise file {file} is missing: `kafkalab lesson {lesson.number} --reset` "
            "puts it back"
        )
    module = grade_module(lesson)
    started = time.monotonic()
    base = Lab(
        settings=settings,
        lesson=lesson,
        quiet=quiet,
        shared=dict(shared or {}),
        breaking=breaking,
    )
    with ExitStack() as stack:
        lab = _where(base, info.needs, stack)
        remove_leftovers(lab.conn, lesson)
        task: Task = module.prepare(lab)
        spec = kit.spec_path(settings.data_dir, lesson.number)
        kit.write_spec(
            spec,
            kit.Setup(
                lesson=lesson.number,
                config=lab.conn.librdkafka(),
                registry=lab.conn.registry(),
                topics=task.topics,
                groups=task.groups,
                params=task.params,
            ),
        )
        env = settings_env(lab.settings)
        program = Program(file, spec, lesson, info.timeout, quiet, env=env)
        try:
            graded: Graded = _grader(module, breaking)(lab, task, program)
            checks = [Check(Program.RAN, True, f"{file.name} finished in {program.seconds:.1f} s")]
            checks += graded.checks
            truths = graded.truths
        except ProgramFailed as failed:
            checks, truths = [failed.check], {}
        finally:
            program.close()
    ok = passed(checks)
    questions = info.questions if breaking is None else breaking.info.questions
    scored = predictions.score(questions, answers, truths)
    seconds = time.monotonic() - started
    if record and breaking is None:
        progress.record_exercise(settings, lesson.number, ok, seconds)
        asked = [s for s in scored if s.right is not None]
        if asked:
            progress.record_predictions(
                settings, lesson.number, len(asked), sum(1 for s in asked if s.right)
            )
    return ExerciseResult(
        number=lesson.number,
        title=lesson.title,
        file=file,
        checks=checks,
        passed=ok,
        seconds=seconds,
        predictions=scored,
        output=program.output,
        truths=truths,
    )
