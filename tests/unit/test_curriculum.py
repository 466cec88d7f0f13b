"""The lessons folder and its runner, without a broker: manifest, texts, progress, CLI errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafkalab import ui
from kafkalab.curriculum import manifest, progress, runner
from kafkalab.curriculum.devcheck import check_all
from kafkalab.curriculum.manifest import PARTS, Lesson
from kafkalab.settings import load_settings
from tests.helpers import CliRun, run_cli

LESSONS = manifest.load()


def test_the_lessons_in_four_parts() -> None:
    assert [x.number for x in LESSONS] == list(range(1, 23))
    assert {x.part for x in LESSONS} == set(PARTS)
    parts = {part: [x.number for x in LESSONS if x.part == part] for part in PARTS}
    assert parts == {
        "foundation": list(range(1, 7)),
        "resilience": [*range(7, 14), 21],  # share groups: consumption beside lessons 7-9
        "streams": list(range(14, 18)),
        "production": [*range(18, 21), 22],  # the capstone last
    }


def test_every_lesson_folder_is_complete() -> None:
    assert check_all(LESSONS) == []


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: f"{x.number:02d}")
def test_explain_renders_and_names_its_settings(
    lesson: Lesson, capsys: pytest.CaptureFixture[str]
) -> None:
    ui.markdown(runner.explain_text(lesson))
    text = " ".join(capsys.readouterr().out.split())
    assert lesson.title.split()[0] in text
    for setting in lesson.settings:
        assert setting in text, f"lesson {lesson.number} --explain does not mention {setting}"
    assert "kafkalab/" in text, "the text must say where the pattern lives in kafkalab"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: f"{x.number:02d}")
def test_demo_and_check_load(lesson: Lesson) -> None:
    assert callable(runner.demo_function(lesson))
    assert callable(runner.check_function(lesson))


def test_progress_is_kept_and_next_skips_passed(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert progress.load(settings) == {}
    progress.record(settings, 1, True, 2.0)
    progress.record(settings, 2, False, 3.0)
    attempts = progress.load(settings)
    assert progress.status(attempts, 1) == progress.PASSED
    assert progress.status(attempts, 2) == progress.FAILED
    assert progress.status(attempts, 3) == progress.NOT_STARTED


def _cli(*args: str, data_dir: Path) -> CliRun:
    return run_cli(*args, env={"KAFKALAB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("which", ["99", "0", "seven"])
def test_unknown_lesson_is_one_sentence(which: str, tmp_path: Path) -> None:
    done = _cli("lesson", which, "--explain", data_dir=tmp_path)
    assert done.code == 1
    assert "Traceback" not in done.stderr
    last = LESSONS[-1].number
    assert f"1 to {last}" in done.stderr or f"1–{last}" in done.stderr


def test_lessons_lists_progress_and_next(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    progress.record(settings, 1, True, 1.0)
    progress.record_exercise(settings, 1, True, 1.0)
    listed = _cli("lessons", data_dir=tmp_path)
    assert listed.code == 0, listed.stderr
    assert f"1/{len(LESSONS)} done" in listed.stdout
    hint = _cli("lesson", "next", "--hint", data_dir=tmp_path)
    assert hint.code == 0
    assert "lesson 2" in hint.stdout


def test_next_after_every_lesson_passed_says_so_and_succeeds(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    for lesson in LESSONS:
        progress.record(settings, lesson.number, True, 1.0)
        progress.record_exercise(settings, lesson.number, True, 1.0)
    listed = _cli("lessons", data_dir=tmp_path)
    assert listed.code == 0, listed.stderr
    every = len(LESSONS)
    assert f"{every}/{every} done" in listed.stdout and "lesson next" not in listed.stdout
    done = _cli("lesson", "next", data_dir=tmp_path)
    assert done.code == 0, done.stderr
    assert f"all {every} lessons done" in done.stdout + done.stderr


def test_explain_needs_no_cluster(tmp_path: Path) -> None:
    done = _cli("lesson", "2", "--explain", data_dir=tmp_path)
    assert done.code == 0, done.stderr
    assert "murmur2" in done.stdout


def test_a_chapter_without_its_three_questions_and_answers_is_a_problem() -> None:
    from kafkalab.curriculum.devcheck import _understanding

    good = "## Check your understanding\n\n1. a?\n2. b?\n3. c?\n\n### Answers\n\n1. x\n2. y\n3. z\n"
    assert _understanding("NN", good) == []
    assert "no `## Check your understanding`" in _understanding("NN", "# text\n")[0].problem
    two = good.replace("3. c?\n", "")
    assert "3 numbered questions" in _understanding("NN", two)[0].problem
    unanswered = good.split("### Answers")[0]
    assert "3 answers" in _understanding("NN", unanswered)[0].problem


CHAPTER = """# Lesson 99 — A chapter

## The idea

One two three.

```
## More
code words here
```

## More

### History

Four five.

## Check your understanding

1. a?
2. b?
3. c?

### Answers

1. x
2. y
3. z
"""


def test_a_chapter_splits_at_more_and_at_its_questions() -> None:
    from kafkalab.curriculum import chapter

    parts = chapter.split(CHAPTER)
    assert parts.whole == CHAPTER
    assert parts.main.endswith("```\n\n")  # the fenced `## More` is code, not the heading
    assert parts.more.startswith("## More\n\n### History") and "Four five." in parts.more
    assert parts.understanding.startswith("## Check your understanding")
    brief = parts.brief(99)
    assert "Four five." not in brief and "3. z" in brief
    assert brief.rstrip().endswith("More on this lesson: `kafkalab lesson 99 --explain --more`")


def test_a_chapter_without_more_is_all_main_and_has_no_pointer() -> None:
    from kafkalab.curriculum import chapter

    text = CHAPTER.replace("## More\n\n### History\n\nFour five.\n\n", "")
    parts = chapter.split(text)
    assert parts.more == "" and parts.main + parts.understanding == text
    assert parts.brief(99) == text
    assert chapter.split("# no questions\n").main == "# no questions\n"


def test_prose_words_skip_code_blocks_and_markup() -> None:
    from kafkalab.curriculum import chapter

    assert chapter.prose_words("## The idea\n\n| `acks` | all |\n- one two\n") == 6
    assert chapter.prose_words("a b\n```\nc d e\n```\nf\n") == 3


QUESTIONS = CHAPTER[CHAPTER.index("## Check your understanding") :]


def _sized(words: int, more: bool = True) -> str:
    """A chapter whose main part has `words` words (its `# Lesson` title is one)."""
    main = "# Lesson\n\n" + "word " * (words - 1) + "\n\n"
    rest = "## More\n\n### Detail\n\nmore words\n\n" if more else ""
    return main + rest + QUESTIONS


def test_the_main_part_must_be_read_in_one_sitting() -> None:
    from kafkalab.curriculum.devcheck import _main_part

    assert _main_part("NN", 3, _sized(600)) == []
    assert _main_part("NN", 3, _sized(500)) == [] and _main_part("NN", 3, _sized(700)) == []
    long = _main_part("NN", 3, _sized(701))
    assert "701 words" in long[0].problem and "move detail under `## More`" in long[0].problem
    short = _main_part("NN", 20, _sized(499))
    assert "499 words" in short[0].problem and "between 500 and 700" in short[0].problem


def test_a_chapter_without_more_is_sized_to_its_questions() -> None:
    from kafkalab.curriculum.devcheck import _main_part

    sized = _main_part("NN", 22, _sized(900, more=False))
    assert "900 words" in sized[0].problem and "top to `## Check your understanding`" in (
        sized[0].problem
    )


def test_more_after_the_questions_is_a_problem() -> None:
    from kafkalab.curriculum.devcheck import _main_part

    text = _sized(600, more=False) + "\n## More\n\nlate\n"
    assert "stands after `## Check your understanding`" in _main_part("NN", 3, text)[0].problem


def test_explain_prints_the_main_part_and_more_prints_the_whole(tmp_path: Path) -> None:
    chapter = runner.explain_text(LESSONS[1])
    more = chapter.split("\n## More\n", 1)[1].split("## Check your understanding")[0]
    plain = re.compile(r"[A-Z][a-z]+( [a-z]+){3}")  # four words Markdown renders as they are
    first = next(m.group() for line in more.splitlines() if (m := plain.match(line)))
    brief = _cli("lesson", "2", "--explain", data_dir=tmp_path)
    assert brief.code == 0, brief.stderr
    flat = " ".join(brief.stdout.split())
    assert first not in flat and "Answers" in flat
    assert "More on this lesson: kafkalab lesson 2 --explain --more" in flat
    whole = _cli("lesson", "2", "--explain", "--more", data_dir=tmp_path)
    assert whole.code == 0, whole.stderr
    assert first in " ".join(whole.stdout.split()) and "More on this lesson" not in whole.stdout


def test_more_without_explain_is_one_sentence(tmp_path: Path) -> None:
    done = _cli("lesson", "2", "--more", data_dir=tmp_path)
    assert done.code == 1 and "Traceback" not in done.stderr
    assert "--more goes with --explain" in done.stderr
