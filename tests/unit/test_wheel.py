"""A wheel carries the course material: installed into a new venv, away from the checkout, it
still reads lesson 1, lists the built-in scenarios and copies the exercises into a workspace
(the top-level `lessons/` and `scenarios/` folders travel as `kafkalab/_bundled/`)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path, cwd: Path) -> str:
    proc = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kafkalab` from a wheel in a new venv; its dependencies come from this venv's
    site-packages as a plain path (not a site dir, so this venv's editable kafkalab is not seen)."""
    where = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", where / "dist", ROOT, cwd=where)  # fmt: skip
    wheel = next((where / "dist").glob("kafkalab-*.whl"))
    venv.create(where / "venv", with_pip=False)
    python = where / "venv" / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        site,
        wheel,
        cwd=where,
    )
    return python


def test_the_wheel_holds_lessons_and_scenarios(installed: Path, tmp_path: Path) -> None:
    where = run(
        installed, "-c", "import kafkalab.content as c; print(c.lessons_dir())", cwd=tmp_path
    )
    assert "_bundled" in where and str(ROOT) not in where


def test_lesson_1_explain_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    text = run(installed, "-m", "kafkalab", "lesson", "1", "--explain", cwd=tmp_path)
    assert "Event-driven architecture" in text


def test_scenarios_listed_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    text = run(installed, "-m", "kafkalab", "scenario", cwd=tmp_path)
    for name in ("happy-path", "payment-failure", "preferences", "high-load"):
        assert name in text


def test_exercises_from_the_wheel_need_a_workspace_first(installed: Path, tmp_path: Path) -> None:
    """A pip install keeps its lessons in site-packages: `init` gives the learner a folder."""
    env = {"KAFKALAB_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    before = subprocess.run(
        [str(installed), "-m", "kafkalab", "lesson", "2", "--no-predict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert before.returncode != 0 and "kafkalab init" in before.stderr
    assert "Traceback" not in before.stderr
    made = subprocess.run(
        [str(installed), "-m", "kafkalab", "init", "ws"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    copied = tmp_path / "ws" / "02-topics-partitions-keys" / "exercise.py"
    assert "TODO" in copied.read_text()
