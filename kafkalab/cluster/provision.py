"""Fetch the pinned Kafka broker jars from Maven Central once, verify them, reuse them offline.

Maven resolves `kafka-pom.xml` (kept beside this module) into a temporary folder; every jar
is checked against `kafka-jars.sha256` before the folder is moved into the cache, so a
half-finished or tampered download never becomes the broker's classpath. Once verified, a
stamp file lets later starts skip hashing and run with no network at all.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kafkalab.errors import ChecksumMismatch, DownloadFailed, MavenNotFound
from kafkalab.settings import Settings

KAFKA_VERSION = "4.3.1"
SCALA_VERSION = "2.13"
JMX_EXPORTER_JAR = "jmx_prometheus_javaagent-1.0.1.jar"  # in kafka-pom.xml; the brokers' agent
POM_FILE = "kafka-pom.xml"
LOCK_FILE = "kafka-jars.sha256"
STAMP_FILE = ".verified"

Progress = Callable[[int, int, str], None]
"""progress(done, total, name): called as each jar arrives."""


@dataclass(frozen=True)
class JarProblem:
    name: str
    problem: str  # "missing", "unexpected" or "checksum"


def kafka_home(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{KAFKA_VERSION}"


def libs_dir(settings: Settings) -> Path:
    return kafka_home(settings) / "libs"


def _package_file(name: str) -> str:
    return resources.files("kafkalab.cluster").joinpath(name).read_text()


def pinned_checksums(text: str | None = None) -> dict[str, str]:
    """The `sha256  file` lines of the lock file as {file: sha256}."""
    text = _package_file(LOCK_FILE) if text is None else text
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            pins[name.strip()] = digest.lower()
    return pins


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_jars(folder: Path, pins: dict[str, str]) -> list[JarProblem]:
    """Every difference between the jars in `folder` and the pinned list; empty means good."""
    present = {path.name for path in folder.glob("*.jar")}
    problems = [JarProblem(name, "missing") for name in sorted(pins.keys() - present)]
    problems += [JarProblem(name, "unexpected") for name in sorted(present - pins.keys())]
    for name in sorted(present & pins.keys()):
        if sha256_of(folder / name) != pins[name]:
            problems.append(JarProblem(name, "checksum"))
    return problems


def _lock_digest() -> str:
    return hashlib.sha256(_package_file(LOCK_FILE).encode()).hexdigest()


def jars_ready(settings: Settings) -> bool:
    """True when the cache holds a verified copy of exactly the pinned jars (cheap: no hashing)."""
    stamp = kafka_home(settings) / STAMP_FILE
    return stamp.exists() and stamp.read_text().strip() == _lock_digest()


def ensure_jars(settings: Settings, progress: Progress | None = None) -> Path:
    """The broker's classpath folder, downloading and verifying it first if needed.

    Two commands starting at once (two terminals, two test workers) download once: the second
    waits on a lock in the cache folder and then finds the verified copy."""
    if jars_ready(settings):
        return libs_dir(settings)
    home = kafka_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".download.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jars_ready(settings):
            return libs_dir(settings)
        return _download(settings, progress)


def _download(settings: Settings, progress: Progress | None) -> Path:
    mvn = shutil.which(settings.mvn)
    if mvn is None:
        raise MavenNotFound(
            f"the Kafka {KAFKA_VERSION} jars are not cached yet and Maven ({settings.mvn}) "
            "is not installed to fetch them"
        )
    pins = pinned_checksums()
    home = kafka_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home, prefix="download-") as tmp:
        staging = Path(tmp) / "libs"
        _run_maven(mvn, staging, len(pins), progress)
        problems = verify_jars(staging, pins)
        if problems:
            first = problems[0]
            if first.problem == "checksum":
                raise ChecksumMismatch(
                    f"{first.name} does not match the SHA-256 pinned in kafkalab "
                    f"({len(problems)} jar(s) differ)",
                    hint="the download was corrupted or altered; run again, and report it if it "
                    "repeats",
                )
            raise DownloadFailed(
                f"Maven returned a different set of jars than pinned ({first.name}: "
                f"{first.problem}; {len(problems)} difference(s))"
            )
        target = libs_dir(settings)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    (home / STAMP_FILE).write_text(_lock_digest() + "\n")
    return libs_dir(settings)


def recheck_cache(settings: Settings) -> list[JarProblem]:
    """Hash every cached jar again (for `doctor`); drops the stamp when something is wrong."""
    problems = verify_jars(libs_dir(settings), pinned_checksums())
    if problems:
        (kafka_home(settings) / STAMP_FILE).unlink(missing_ok=True)
    return problems


def _run_maven(mvn: str, out_dir: Path, total: int, progress: Progress | None) -> None:
    with resources.as_file(resources.files("kafkalab.cluster").joinpath(POM_FILE)) as pom:
        cmd = [
            mvn,
            "-B",
            "--no-transfer-progress",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out_dir}",
            "-DincludeScope=runtime",
        ]
        try:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        except OSError as exc:
            raise MavenNotFound(f"Maven could not be run ({exc.strerror})") from exc
        tail: list[str] = []
        done = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-40:]
            if "Copying " in line and progress:
                done += 1
                name = line.split("Copying ", 1)[1].split(" to ", 1)[0]
                progress(min(done, total), total, name)
        if proc.wait() != 0:
            errors = [row for row in tail if row.startswith("[ERROR]")]
            reason = errors[0].removeprefix("[ERROR]").strip() if errors else "no detail"
            raise DownloadFailed(
                f"Maven could not fetch the Kafka {KAFKA_VERSION} jars: {reason}"[:400]
            )
