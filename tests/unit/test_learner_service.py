"""`kafkalab up --with refund`: what the supervisor is told to run, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkalab.connection import Connection
from kafkalab.platform import learner
from kafkalab.settings import load_settings
from tests.helpers import run_cli

PLAIN = Connection("127.0.0.1:9092", "http://127.0.0.1:8081")


def test_the_learner_s_file_runs_through_the_launcher_on_the_shop_s_own_names(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, service_port=8101)
    program = tmp_path / "exercise.py"
    program.write_text("print('refunds')\n")
    learner.enable(settings, PLAIN, "refund", program)
    command = learner.command(settings, "refund", 0)
    assert command is not None and command[1:3] == ["-m", "kafkalab.exercise"]
    assert command[4] == str(program.resolve())
    setup = json.loads(Path(command[3]).read_text())
    assert setup["topics"] == {
        "order-events": "order-events",
        "payments": "payments",
        "refunds": "refunds",
        "refunds.DLT": "refunds.DLT",
    }
    assert setup["groups"]["refund"] == "kafkalab-refund"
    assert setup["params"]["metrics_port"] == 8108  # not the platform's own :8107
    assert setup["params"]["service"]["client.id"] == "refund-0"
    assert setup["params"]["transactional_id"] == "kafkalab-refund-0"
    assert learner.groups(settings) == ["kafkalab-refund"]  # its lag on the platform endpoint
    learner.disable(settings)
    assert learner.command(settings, "refund", 0) is None
    assert learner.groups(settings) == []


def test_a_foreign_cluster_or_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    foreign = Connection("127.0.0.1:9192", "http://127.0.0.1:8081", security_protocol="SASL_SSL")
    with pytest.raises(learner.LearnerServiceOnForeignCluster, match="kafkalab's own cluster"):
        learner.enable(settings, foreign, "refund", Path(__file__))
    with pytest.raises(learner.NoLearnerFile, match="there is no file"):
        learner.enable(settings, PLAIN, "refund", tmp_path / "nope.py")


def test_up_with_an_unknown_service_is_refused_before_anything_starts(tmp_path: Path) -> None:
    run = run_cli("up", "--with", "shipping", env={"KAFKALAB_DATA_DIR": str(tmp_path)})
    assert run.code == 1
    assert "--with knows no service 'shipping'" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_refund_service_is_scraped_only_while_it_runs(tmp_path: Path) -> None:
    from kafkalab.monitoring.scrape import targets

    settings = load_settings(data_dir=tmp_path, service_port=8101)
    six = {t.port for t in targets(settings, {"order": 1})}
    seven = {t.port for t in targets(settings, {"order": 1, "refund": 1})}
    assert seven - six == {8108}


def test_on_the_secure_cluster_it_logs_in_as_its_own_scram_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up --secure --with refund`: the service's user and ACLs are made (as admin), and its
    set-up holds its own login only, in a 0600 file: no admin password reaches its process."""
    from kafkalab.security import material

    made: list[tuple[str, str, str | None]] = []

    def apply_service(admin: Connection, service: str, password: str) -> int:
        made.append((service, password, admin.sasl_username))
        return 7

    monkeypatch.setattr(learner.provision, "apply_service", apply_service)
    settings = load_settings(data_dir=tmp_path, service_port=8101)
    admin = Connection(
        "127.0.0.1:9192",
        "http://127.0.0.1:8081",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="admin",
        sasl_password="admin-secret",
        ssl_ca_location="/ca.pem",
        secure_mode=True,
    )
    program = tmp_path / "exercise.py"
    program.write_text("print('refunds')\n")
    learner.enable(settings, admin, "refund", program)
    own = material.password(settings, "refund")
    assert made == [("refund", own, "admin")]
    command = learner.command(settings, "refund", 0)
    assert command is not None
    setup_file = Path(command[3])
    assert setup_file.stat().st_mode & 0o777 == 0o600
    setup = json.loads(setup_file.read_text())
    for config in (setup["config"], setup["params"]["service"]):
        assert config["sasl.username"] == "refund" and config["sasl.password"] == own
        assert config["security.protocol"] == "SASL_SSL"
    assert "admin-secret" not in setup_file.read_text()
    assert setup["params"]["transactional_id"] == "kafkalab-refund-0"
    assert setup["groups"] == {
        "refund": "kafkalab-refund",
        "payments-table": "refund-payments-table",
    }
