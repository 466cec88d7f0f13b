import stat
from pathlib import Path

import pytest

from kafkalab.cluster.java import find_java, parse_java_major
from kafkalab.errors import JavaNotFound, JavaTooOld
from kafkalab.settings import load_settings


@pytest.mark.parametrize(
    ("version", "major"), [("17.0.15", 17), ("1.8.0_392", 8), ("21", 21), ("11.0.2-ea", 11)]
)
def test_parse_java_major(version: str, major: int) -> None:
    assert parse_java_major(version) == major


def fake_java(tmp_path: Path, version: str) -> str:
    script = tmp_path / "java"
    script.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_old_java_is_refused_with_the_version_found(tmp_path: Path) -> None:
    settings = load_settings(java=fake_java(tmp_path, "11.0.2"))
    with pytest.raises(JavaTooOld, match="Java 11.0.2 .* too old"):
        find_java(settings)


def test_recent_java_is_accepted(tmp_path: Path) -> None:
    java = find_java(load_settings(java=fake_java(tmp_path, "21.0.1")))
    assert java.major == 21


def test_missing_java_binary(tmp_path: Path) -> None:
    with pytest.raises(JavaNotFound):
        find_java(load_settings(java=str(tmp_path / "nope" / "java")))
