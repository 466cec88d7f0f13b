"""Help texts that re-wrap to the terminal's width.

Docstrings are written with hard line breaks at ~100 columns. In rich markup mode Typer joins
the lines of a command's first paragraph for its own page, but keeps them in the commands
table and in every later paragraph, so a sentence broke wherever the source line ended. Here
each paragraph is made one line before Typer renders it, and rich wraps it to the terminal.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_LIST_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


def flow(text: str) -> str:
    """`text` with each paragraph on one line: a single newline inside a paragraph becomes a
    space, a blank line still separates paragraphs. Kept as written: a paragraph that starts
    with click's no-rewrap marker `\\b`, the line breaks before list items ("- ", "1. "), and
    everything after a `\\f` (click's "not for help" cut)."""
    body, cut, rest = inspect.cleandoc(text).partition("\f")
    paragraphs = [_flow_paragraph(p) for p in _PARAGRAPH_BREAK.split(body.strip())]
    return "\n\n".join(paragraphs) + body[len(body.rstrip()) :] + cut + rest


def _flow_paragraph(paragraph: str) -> str:
    if paragraph.startswith("\b"):
        return paragraph
    lines: list[str] = []
    for line in (raw.strip() for raw in paragraph.splitlines()):
        if lines and not _LIST_ITEM.match(line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return "\n".join(lines)


def flow_tree(command: Any) -> None:
    """Flow the help of `command` and of every command and group below it, in place.

    `command` is a click command from the copy of click that Typer keeps private, hence Any.
    """
    if command.help:
        command.help = flow(command.help)
    for sub in getattr(command, "commands", {}).values():
        flow_tree(sub)
