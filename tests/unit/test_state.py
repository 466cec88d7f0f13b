import re
import subprocess
import sys
from pathlib import Path

from kafkalab.cluster.lifecycle import new_cluster_id
from kafkalab.cluster.state import ClusterState
from kafkalab.processes import read_pid
from kafkalab.settings import load_settings


def test_stale_pid_file_is_cleaned(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text(f"{proc.pid}\n")
    assert read_pid(pid_file) is None
    assert not pid_file.exists()


def test_live_pid_is_kept(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pid_file = tmp_path / "broker.pid"
        pid_file.write_text(f"{proc.pid}\n")
        assert read_pid(pid_file) == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_garbage_pid_file_reads_as_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text("not a pid")
    assert read_pid(pid_file) is None


def test_cluster_ids_are_kafka_shaped() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) and not i.startswith("-") for i in ids)


def test_state_round_trips_through_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert ClusterState.load(settings) is None
    ClusterState("abc", 3, "4.3.1").save(settings)
    assert ClusterState.load(settings) == ClusterState("abc", 3, "4.3.1")
