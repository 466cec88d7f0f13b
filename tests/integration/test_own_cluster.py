"""Bring your own cluster: kafkalab pointed at a cluster it did not start, through nothing but
a librdkafka client properties file (and the registry named in it).

The foreign cluster is the session's secure kafkalab cluster (SASL_SSL, SCRAM, ACLs), used as
if it were someone else's: a new data dir with no cluster.json and no security material, a
copy of the CA certificate, and the admin login in the file. Its registry is a second registry
process on that cluster that asks for HTTP basic auth, as a managed one does, so every client
kafkalab builds (services, serializers, quixstreams, the CLI) must send the login. The
cluster's own services step aside for the module (the same consumer groups) and come back
afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from kafkalab.platform import control
from kafkalab.security import material
from kafkalab.settings import Settings, load_settings, settings_env
from tests.helpers import free_port, free_port_block, run_cli
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


LOGIN = "learner:registry-pass"


@pytest.fixture(scope="module")
def guarded_registry(
    secure_platform: Running, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A registry on the secure cluster that answers 401 without `LOGIN`."""
    port = free_port()
    own = {"registry_port": port, "registry_auth": SecretStr(LOGIN), "principal": "admin"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}
    env.update(settings_env(secure_platform.settings.model_copy(update=own)))
    log = (tmp_path_factory.mktemp("guarded-registry") / "registry.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkalab.cluster.registry", "--port", str(port)],
        env=env,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(
                f"{url}/subjects", auth=("learner", "registry-pass"), timeout=2
            ).is_success:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    try:
        assert httpx.get(f"{url}/subjects", timeout=5).status_code == 401
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.fixture(scope="module")
def foreign(
    secure_platform: Running, guarded_registry: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("own-cluster")
    ca = home / "ca.pem"
    shutil.copy(secure_platform.conn.ssl_ca_location or "", ca)
    password = material.password(secure_platform.settings, material.ADMIN)
    properties = home / "client.properties"
    properties.write_text(
        "# the cluster someone else runs\n"
        f"bootstrap.servers={secure_platform.conn.bootstrap_servers}\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.username=admin\n"
        f"sasl.password={password}\n"
        f"ssl.ca.location={ca}\n"
        f"schema.registry.url={guarded_registry}\n"
        f"basic.auth.user.info={LOGIN}\n"
    )
    settings = load_settings(
        data_dir=home / "data", client_properties=properties, service_port=free_port_block(80)
    )
    control.down(secure_platform.settings)  # its services share the groups we are about to use
    try:
        yield settings
    finally:
        control.down(settings)
        control.up(secure_platform.settings, timeout=180.0, secure=True)


def cli(settings: Settings, *args: str) -> dict:
    run = run_cli(*args, env=settings_env(settings))
    assert run.code == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout) if "--json" in args else {"stdout": run.stdout}


def test_up_starts_the_services_on_the_foreign_cluster(foreign: Settings) -> None:
    out = cli(foreign, "up")["stdout"]
    assert "platform up over SASL_SSL" in out
    assert not (foreign.data_dir / "cluster.json").exists()  # nothing was formatted or started
    assert not (foreign.data_dir / "security").exists()


def test_scenario_trace_lag_and_verify_work_there(foreign: Settings) -> None:
    result = cli(foreign, "scenario", "happy-path", "--json")
    assert result["passed"] is True, result
    order_id = result["order_id"]
    trace = cli(foreign, "trace", order_id, "--json")
    assert trace["status"] == "CONFIRMED"
    lags = cli(foreign, "lag", "--json")
    assert any(group["group"] == "kafkalab-payment" for group in lags["groups"])
    report = cli(foreign, "verify", "--since", "2m", "--json")
    assert report["passed"] is True, report


def test_a_load_runs_there(foreign: Settings, tmp_path: Path) -> None:
    target = tmp_path / "load.json"
    run = run_cli(
        "load", "--orders", "20", "--users", "4", "--json", str(target), env=settings_env(foreign)
    )
    assert run.code == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(target.read_text())
    assert report["passed"] is True  # every accepted order terminal, every invariant holds
    r = report["report"]
    refused = r["refused"]  # by reason: a stock check that timed out on a busy machine, say
    assert r["orders"]["accepted"] + r["failing"]["accepted"] + sum(refused.values()) == 20
    assert r["orders"]["accepted"] >= 10, refused


def test_status_names_the_cluster_and_up_refuses_to_start_one(foreign: Settings) -> None:
    status = cli(foreign, "cluster", "status", "--json")
    assert status["running"] is True and status["protocol"] == "SASL_SSL"
    run = run_cli("cluster", "up", env=settings_env(foreign))
    assert run.code == 1
    assert "a cluster it did not start" in run.stderr and " — " in run.stderr


def test_a_broken_properties_file_is_one_sentence(foreign: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.properties"
    broken.write_text("bootstrap.servers=127.0.0.1:1\nssl.truststore.location=/etc/kafka.jks\n")
    run = run_cli("lag", env=settings_env(foreign.model_copy(update={"client_properties": broken})))
    assert run.code == 1
    assert "ssl.truststore.location is a Java client setting" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_wrong_registry_login_is_one_sentence(foreign: Settings, tmp_path: Path) -> None:
    assert foreign.client_properties is not None
    text = foreign.client_properties.read_text().replace(LOGIN, "learner:wrong")
    wrong = tmp_path / "wrong.properties"
    wrong.write_text(text)
    run = run_cli(
        "tail",
        "order-events",
        env=settings_env(foreign.model_copy(update={"client_properties": wrong})),
    )
    assert run.code == 1
    assert "refused the login (HTTP 401)" in run.stderr and "basic.auth.user.info" in run.stderr
