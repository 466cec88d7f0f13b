"""The Schemas page: the registry's subjects, their versions, the compatibility level that
guards each, and a line diff between two versions of one subject — read through the same
registry client the serializers use (clients.schema_registry)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from confluent_kafka.schema_registry import SchemaRegistryClient

from kafkalab.console.html import esc, table
from kafkalab.errors import InvalidChoice


@dataclass
class Subject:
    name: str
    versions: list[int]
    compatibility: str  # the subject's own level, else the registry's (marked "(global)")


@dataclass
class SubjectDetail:
    subject: Subject
    schemas: dict[int, str] = field(default_factory=dict)  # version → pretty schema text
    ids: dict[int, int] = field(default_factory=dict)  # version → global schema id


def compatibility(registry: SchemaRegistryClient, subject: str | None, fallback: str) -> str:
    try:
        return str(registry.get_compatibility(subject))
    except Exception:  # noqa: BLE001 - no level of its own (40408): the global one applies
        return f"{fallback} (global)"


def read_subjects(registry: SchemaRegistryClient) -> list[Subject]:
    level = compatibility(registry, None, "BACKWARD").removesuffix(" (global)")
    return [
        Subject(name, registry.get_versions(name), compatibility(registry, name, level))
        for name in sorted(registry.get_subjects())
    ]


def read_subject(registry: SchemaRegistryClient, name: str) -> SubjectDetail:
    if name not in registry.get_subjects():
        raise InvalidChoice(f"no subject {name!r} in the registry", "the Schemas page lists them")
    level = compatibility(registry, None, "BACKWARD").removesuffix(" (global)")
    versions = registry.get_versions(name)
    detail = SubjectDetail(Subject(name, versions, compatibility(registry, name, level)))
    for version in versions:
        found = registry.get_version(name, version)
        detail.schemas[version] = pretty(found.schema.schema_str)
        detail.ids[version] = found.schema_id
    return detail


def pretty(schema: str) -> str:
    try:
        return json.dumps(json.loads(schema), indent=2)
    except ValueError:
        return schema


def diff(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, line) with kind "+", "-" or " " — a unified diff of two schema texts."""
    lines = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3):
        if line.startswith(("---", "+++", "@@")):
            if line.startswith("@@"):
                lines.append(("@", line))
            continue
        lines.append((line[:1] or " ", line[1:]))
    return lines


def render_list(subjects: list[Subject]) -> str:
    return table(
        ("subject", "versions", "latest", "compatibility"),
        [
            (
                f'<a href="/schemas/{esc(s.name)}">{esc(s.name)}</a>',
                len(s.versions),
                max(s.versions, default="—"),
                esc(s.compatibility),
            )
            for s in subjects
        ],
        raw=True,
    )


def render_subject(detail: SubjectDetail, a: int | None, b: int | None) -> str:
    versions = detail.subject.versions
    b = b if b is not None else max(versions)
    a = a if a is not None else (versions[-2] if len(versions) > 1 else b)
    for v in (a, b):
        if v not in detail.schemas:
            raise InvalidChoice(
                f"{detail.subject.name} has no version {v}", f"its versions: {versions}"
            )
    links = " ".join(f'<a href="?a={v}&b={v}">v{v} (id {detail.ids[v]})</a>' for v in versions)

    def choose(name: str, chosen: int) -> str:
        options = "".join(
            f"<option{' selected' if v == chosen else ''}>{v}</option>" for v in versions
        )
        return f"<label>{name} <select name={name}>{options}</select></label>"

    changes = diff(detail.schemas[a], detail.schemas[b])
    css = {"+": "d add", "-": "d del", "@": "d hunk", " ": "d"}
    body = "".join(
        f'<span class="{css.get(kind, "d")}">'
        f"{esc(line) if kind == '@' else esc(kind) + ' ' + esc(line)}</span>"
        for kind, line in changes
    )
    return (
        f"<p>compatibility <b id=compatibility>{esc(detail.subject.compatibility)}</b> · "
        f"versions: {links}</p>"
        f"<form method=get class=browse>{choose('a', a)}{choose('b', b)}<button>diff</button></form>"
        f"<h2>diff v{a} → v{b}</h2>"
        f"<pre class=diff>{body or '(identical)'}</pre>"
        f"<h2>version {b}</h2><pre>{esc(detail.schemas[b])}</pre>"
    )
