"""Find a Java runtime able to run the pinned Kafka (4.x brokers need Java 17 or newer)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kafkalab.errors import JavaNotFound, JavaTooOld
from kafkalab.settings import Settings

MIN_JAVA = 17
_VERSION = re.compile(r'version "(?P<version>[^"]+)"')


@dataclass(frozen=True)
class JavaRuntime:
    path: str
    version: str
    major: int


def parse_java_major(version: str) -> int:
    """`17.0.15` → 17, `1.8.0_392` → 8, `21` → 21."""
    parts = version.split(".")
    major = int(re.match(r"\d+", parts[0]).group())  # type: ignore[union-attr]
    if major == 1 and len(parts) > 1:
        return int(re.match(r"\d+", parts[1]).group())  # type: ignore[union-attr]
    return major


def java_candidate(settings: Settings) -> str | None:
    """The java binary kafkalab would use: KAFKALAB_JAVA, then $JAVA_HOME/bin/java, then PATH."""
    if settings.java:
        return settings.java
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def find_java(settings: Settings) -> JavaRuntime:
    """The Java runtime to run Kafka with, or JavaNotFound / JavaTooOld saying how to fix it."""
    path = java_candidate(settings)
    if path is None:
        raise JavaNotFound("Java was not found (no KAFKALAB_JAVA, JAVA_HOME or java on PATH)")
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise JavaNotFound(f"Java at {path} could not be run ({exc.strerror})") from exc
    match = _VERSION.search(out.stderr + out.stdout)
    if match is None:
        raise JavaNotFound(f"{path} -version did not print a Java version")
    version = match.group("version")
    major = parse_java_major(version)
    if major < MIN_JAVA:
        raise JavaTooOld(f"Java {version} at {path} is too old: Kafka 4 needs Java {MIN_JAVA}+")
    return JavaRuntime(path=path, version=version, major=major)
