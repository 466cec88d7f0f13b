"""A lesson's chapter (explain.md) in its three parts: the main part, `## More`, and the
questions.

The main part runs from the top to a line that is exactly `## More` (or, in a chapter without
one, to `## Check your understanding`) and is sized to be read in one terminal sitting;
`kafkalab lesson N --explain` prints it with the questions and their answers, and `--more`
prints the whole chapter. Headings inside fenced code blocks do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MORE = "## More"
UNDERSTANDING = "## Check your understanding"
ANSWERS = "### Answers"
FENCES = ("```", "~~~")
WORD = re.compile(r"\S*\w\S*")


@dataclass(frozen=True)
class Chapter:
    """`main` + `more` + `understanding` is the whole text, in that order; `more` starts with
    its `## More` line and is empty when the chapter has none, `understanding` starts with its
    heading and is empty when the chapter has none."""

    main: str
    more: str
    understanding: str

    @property
    def whole(self) -> str:
        return self.main + self.more + self.understanding

    def brief(self, number: int) -> str:
        """What `--explain` prints: the main part, the questions and answers, and, when there
        is a More section, the one line that says how to read it."""
        text = self.main + self.understanding
        if self.more:
            text = (
                text.rstrip("\n")
                + f"\n\nMore on this lesson: `kafkalab lesson {number} --explain --more`\n"
            )
        return text


def _heading_lines(lines: list[str]) -> dict[str, int]:
    """The first line index of each exact `## More` / `## Check your understanding` line that
    is not inside a fenced code block."""
    found: dict[str, int] = {}
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(FENCES):
            fenced = not fenced
            continue
        heading = line.rstrip()
        if not fenced and heading in (MORE, UNDERSTANDING):
            found.setdefault(heading, index)
    return found


def split(text: str) -> Chapter:
    """The chapter's parts. A `## More` that stands after the questions is not a More section
    (`dev check` says so); the whole text before the questions is then the main part."""
    lines = text.splitlines(keepends=True)
    at = _heading_lines(lines)
    end = at.get(UNDERSTANDING, len(lines))
    more = at.get(MORE, end)
    if more > end:
        more = end
    return Chapter(
        main="".join(lines[:more]),
        more="".join(lines[more:end]),
        understanding="".join(lines[end:]),
    )


def more_after_questions(text: str) -> bool:
    """True when the chapter's `## More` stands after its questions (so it is no More section)."""
    at = _heading_lines(text.splitlines())
    return MORE in at and UNDERSTANDING in at and at[MORE] > at[UNDERSTANDING]


def prose_words(text: str) -> int:
    """Words outside fenced code blocks (a word holds a letter or digit, so a table's `|` and
    a list's `-` are not words; headings, lists and tables count like sentences)."""
    fenced = False
    count = 0
    for line in text.splitlines():
        if line.lstrip().startswith(FENCES):
            fenced = not fenced
            continue
        if not fenced:
            count += len(WORD.findall(line))
    return count
