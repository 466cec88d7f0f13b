import hashlib
import os
import stat
from pathlib import Path

import pytest

from kafkalab.cluster import provision
from kafkalab.errors import ChecksumMismatch, DownloadFailed, MavenNotFound
from kafkalab.settings import load_settings


def write_jar(folder: Path, name: str, content: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def test_pinned_checksums_cover_the_pinned_kafka_version() -> None:
    pins = provision.pinned_checksums()
    assert f"kafka_{provision.SCALA_VERSION}-{provision.KAFKA_VERSION}.jar" in pins
    assert f"kafka-clients-{provision.KAFKA_VERSION}.jar" in pins
    assert all(len(digest) == 64 for digest in pins.values())
    pom = (Path(provision.__file__).parent / provision.POM_FILE).read_text()
    assert f"<kafka.version>{provision.KAFKA_VERSION}</kafka.version>" in pom


def test_verify_accepts_exactly_the_pinned_jars(tmp_path: Path) -> None:
    pins = {
        "a.jar": write_jar(tmp_path, "a.jar", b"aaa"),
        "b.jar": write_jar(tmp_path, "b.jar", b"b"),
    }
    assert provision.verify_jars(tmp_path, pins) == []


def test_verify_reports_tampered_missing_and_unexpected_jars(tmp_path: Path) -> None:
    pins = {"a.jar": write_jar(tmp_path, "a.jar", b"aaa"), "gone.jar": "0" * 64}
    (tmp_path / "a.jar").write_bytes(b"tampered")
    write_jar(tmp_path, "extra.jar", b"x")
    problems = {(p.name, p.problem) for p in provision.verify_jars(tmp_path, pins)}
    assert problems == {("a.jar", "checksum"), ("gone.jar", "missing"), ("extra.jar", "unexpected")}


def test_lock_file_parser_skips_comments() -> None:
    text = "# comment\n\n" + "ab" * 32 + "  x.jar\n"
    assert provision.pinned_checksums(text) == {"x.jar": "ab" * 32}


def fake_mvn(tmp_path: Path, body: str) -> str:
    script = tmp_path / "mvn"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_missing_maven_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(cache_dir=tmp_path / "cache", mvn=str(tmp_path / "no-such-mvn"))
    with pytest.raises(MavenNotFound, match="not cached yet"):
        provision.ensure_jars(settings)


def test_jars_that_do_not_match_the_pins_are_refused(tmp_path: Path) -> None:
    # A stand-in for Maven that "downloads" every pinned jar with the wrong bytes.
    names = " ".join(provision.pinned_checksums())
    mvn = fake_mvn(
        tmp_path,
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        f'mkdir -p "$out"; for n in {names}; do echo corrupted > "$out/$n"; echo "[INFO] Copying $n to $out/$n"; done\n',
    )
    settings = load_settings(cache_dir=tmp_path / "cache", mvn=mvn)
    seen: list[int] = []
    with pytest.raises(ChecksumMismatch, match="does not match the SHA-256 pinned"):
        provision.ensure_jars(settings, progress=lambda done, total, name: seen.append(done))
    assert seen and seen[-1] == len(provision.pinned_checksums())
    assert not provision.libs_dir(settings).exists()  # nothing unverified becomes the classpath
    assert not provision.jars_ready(settings)


def test_maven_failure_reports_its_error_line(tmp_path: Path) -> None:
    mvn = fake_mvn(
        tmp_path, 'echo "[ERROR] Could not resolve dependencies: network down"; exit 1\n'
    )
    settings = load_settings(cache_dir=tmp_path / "cache", mvn=mvn)
    with pytest.raises(DownloadFailed, match="Could not resolve dependencies: network down"):
        provision.ensure_jars(settings)


def test_verified_cache_is_reused_without_maven(tmp_path: Path) -> None:
    settings = load_settings(cache_dir=tmp_path / "cache", mvn=str(tmp_path / "no-such-mvn"))
    home = provision.kafka_home(settings)
    provision.libs_dir(settings).mkdir(parents=True)
    (home / provision.STAMP_FILE).write_text(provision._lock_digest() + "\n")
    assert provision.ensure_jars(settings) == provision.libs_dir(settings)
    assert os.listdir(provision.libs_dir(settings)) == []
