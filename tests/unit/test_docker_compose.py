"""docker/ is consistent with itself and with kafkalab, checked without a Docker engine.

Every host:port a container is told to use belongs to a compose service that listens there;
every published port is published once, on loopback, at kafkalab's default port (so the
host-side commands work against the stack unchanged); Prometheus scrapes exactly the six
services; Grafana's data source and dashboards are the provisioned ones. Both variants (one
node, and the three-node overlay merged over it the way compose merges) are checked.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkalab.catalogue import metrics as catalogue
from kafkalab.catalogue.services import SERVICES, platform_port, service_port
from kafkalab.monitoring import scrape
from kafkalab.platform import compose
from kafkalab.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
HOST_PORT = re.compile(r"(?:^|[/@,\s])([a-z][a-z0-9-]*):(\d+)")
VARIANTS = {1: [compose.COMPOSE_FILE], 3: [compose.COMPOSE_FILE, compose.THREE_NODES_FILE]}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DOCKER / name).read_text())


def merge(base: Any, over: Any) -> Any:
    """Compose's merge for what these files use: mappings merge key by key, the rest replaces
    (ports/volumes of existing services are not overridden by the overlay)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over
        }
    return over


def stack(brokers: int) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in VARIANTS[brokers]:
        merged = merge(merged, load(name))
    return merged


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each `ports` entry."""
    out = []
    for entry in service.get("ports", []):
        ip, host, container = str(entry).split(":")
        out.append((ip, int(host), int(container)))
    return out


def listening(name: str, service: dict[str, Any]) -> set[int]:
    """The container ports a compose service listens on, from its own configuration."""
    ports = {container for _ip, _host, container in published(service)}
    values = env(service)
    for key in ("KAFKA_LISTENERS", "SCHEMA_REGISTRY_LISTENERS"):
        ports |= {int(p) for p in re.findall(r":(\d+)", values.get(key, ""))}
    if "KAFKALAB_LISTEN_PORT" in values:
        ports.add(int(values["KAFKALAB_LISTEN_PORT"]))
    return ports


@pytest.fixture(params=[1, 3], ids=["one-node", "three-nodes"])
def brokers(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def test_compose_files_parse_and_name_the_project_kafkalab_uses() -> None:
    assert load(compose.COMPOSE_FILE)["name"] == compose.PROJECT
    assert set(load(compose.THREE_NODES_FILE)["services"]) >= {"kafka-2", "kafka-3"}


def test_every_host_and_port_in_an_environment_exists_in_the_stack(brokers: int) -> None:
    services = stack(brokers)["services"]
    checked = 0
    for name, service in services.items():
        for key, value in env(service).items():
            if key == "KAFKA_LISTENERS" or key.startswith("GF_"):
                continue  # bind addresses of the service itself, not references
            for host, port in HOST_PORT.findall(value):
                if host in ("localhost",) or key == "KAFKA_ADVERTISED_LISTENERS" and host == name:
                    continue
                if key == "KAFKA_ADVERTISED_LISTENERS":
                    pytest.fail(f"{name} advertises {host}, not itself")
                assert host in services, f"{name}.{key} names unknown host {host}"
                assert int(port) in listening(host, services[host]), (
                    f"{name}.{key} uses {host}:{port}, but {host} listens on "
                    f"{sorted(listening(host, services[host]))}"
                )
                checked += 1
    # each service: bootstrap + registry; topics job, registry, UI (2) and quorum voters too
    assert checked >= 2 * len(SERVICES) + 5


def test_every_node_is_in_the_quorum_and_clients_bootstrap_from_all_of_them(brokers: int) -> None:
    services = stack(brokers)["services"]
    nodes = sorted(n for n in services if re.fullmatch(r"kafka-\d+", n))
    assert len(nodes) == brokers
    voters = {
        f"{s['environment']['KAFKA_NODE_ID']}@{n}:9093" for n, s in services.items() if n in nodes
    }
    expected_bootstrap = {f"{n}:19092" for n in nodes}
    for name in nodes:
        assert set(env(services[name])["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env(services[name])["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == str(brokers)
    for name in [*SERVICES, "topics", "platform-metrics"]:
        assert set(env(services[name])["KAFKALAB_BOOTSTRAP"].split(",")) == expected_bootstrap
    assert services["topics"]["command"][-2:] == ["--brokers", str(brokers)]


def test_the_extra_nodes_repeat_the_first_nodes_template() -> None:
    base = load(compose.COMPOSE_FILE)["services"]["kafka-1"]
    for name in ("kafka-2", "kafka-3"):
        node = stack(3)["services"][name]
        assert node["image"] == base["image"]
        assert node["healthcheck"] == base["healthcheck"]
        shared = {k: v for k, v in env(base).items() if k not in node["environment"]}
        assert not shared, f"{name} lacks {sorted(shared)} that kafka-1 sets"


def test_every_published_port_is_published_once_on_loopback(brokers: int) -> None:
    ports = [
        (ip, host)
        for service in stack(brokers)["services"].values()
        for ip, host, _c in published(service)
    ]
    assert all(ip == "127.0.0.1" for ip, _ in ports), ports
    hosts = [host for _ip, host in ports]
    assert len(hosts) == len(set(hosts)), sorted(hosts)


def test_published_ports_are_kafkalabs_defaults_so_host_commands_work(brokers: int) -> None:
    defaults = Settings()
    services = stack(brokers)["services"]
    for name in SERVICES:
        port = service_port(defaults, name)
        assert published(services[name]) == [("127.0.0.1", port, port)]
        assert env(services[name])["KAFKALAB_LISTEN_PORT"] == str(port)
    assert published(services["schema-registry"])[0][1] == defaults.registry_port
    platform = platform_port(defaults)
    assert published(services["platform-metrics"]) == [("127.0.0.1", platform, platform)]
    brokers_published = sorted(
        published(services[f"kafka-{i}"])[0][1] for i in range(1, brokers + 1)
    )
    assert brokers_published == defaults.broker_ports(brokers)
    for i, port in enumerate(brokers_published, start=1):
        assert (
            f"EXTERNAL://127.0.0.1:{port}"
            in env(services[f"kafka-{i}"])["KAFKA_ADVERTISED_LISTENERS"]
        )


def test_the_six_services_run_from_one_image_like_the_supervisor_starts_them() -> None:
    services = stack(1)["services"]
    images = {services[name]["image"] for name in [*SERVICES, "topics", "platform-metrics"]}
    assert images == {"kafkalab:local"}
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["python", "-m", f"kafkalab.services.{name}"]
        assert importlib.util.find_spec(f"kafkalab.services.{name}") is not None
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert env(service)["KAFKALAB_HOST"] == "0.0.0.0"  # reachable from Prometheus
        assert env(service)["KAFKALAB_REGISTRY_URL"] == "http://schema-registry:8081"
        assert "/health" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    topics = services["topics"]
    assert importlib.util.find_spec(topics["command"][2]) is not None
    build = services["user"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).is_file()
    assert (DOCKER / build["context"] / "pyproject.toml").is_file()


def test_long_running_containers_have_health_checks_and_limits() -> None:
    services = stack(3)["services"]
    for name, service in services.items():
        limits = service["deploy"]["resources"]["limits"]
        assert limits["memory"] and limits["cpus"], name
        if name != "topics":  # the one-shot job exits; compose waits for its exit code instead
            assert service["healthcheck"]["test"], name
    declared = set(load(compose.COMPOSE_FILE)["volumes"]) | set(
        load(compose.THREE_NODES_FILE)["volumes"]
    )
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """container path → host path of the bind mounts (relative to docker/)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = (DOCKER / source).resolve()
    return out


def test_prometheus_scrapes_the_six_services_at_their_compose_names_and_ports() -> None:
    services = stack(1)["services"]
    config = load("prometheus/prometheus.yml")
    # the job names and `endpoint` labels `kafkalab alerts` gives its own scrape: one rule file
    job = next(j for j in config["scrape_configs"] if j["job_name"] == scrape.SERVICES_JOB)
    targets = {(t, g["labels"]["endpoint"]) for g in job["static_configs"] for t in g["targets"]}
    assert job["metrics_path"] == "/metrics"
    assert targets == {
        (f"{name}:{env(services[name])['KAFKALAB_LISTEN_PORT']}", name) for name in SERVICES
    }
    platform = next(j for j in config["scrape_configs"] if j["job_name"] == scrape.PLATFORM_JOB)
    assert platform["static_configs"] == [
        {
            "targets": [f"platform-metrics:{platform_port(Settings())}"],
            "labels": {"endpoint": catalogue.PLATFORM},
        }
    ]
    mounts = _mounts(services["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"] == DOCKER / "prometheus" / "prometheus.yml"


def test_the_alert_rules_prometheus_loads_are_kafkalabs_one_rules_file() -> None:
    config = load("prometheus/prometheus.yml")
    mounts = _mounts(stack(1)["services"]["prometheus"])
    for rule_file in config["rule_files"]:
        assert rule_file in mounts, f"{rule_file} is not mounted into the container"
        source = mounts[rule_file]
        assert source == ROOT / "kafkalab" / "monitoring" / "alerts.yml"
        assert source.is_file(), f"{source} does not exist"
        assert yaml.safe_load(source.read_text())["groups"], "the rules file has no rule groups"


def test_grafana_is_provisioned_with_the_prometheus_data_source_and_the_dashboards() -> None:
    services = stack(1)["services"]
    grafana = services["grafana"]
    mounts = _mounts(grafana)
    provisioning = mounts["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    host, port = re.findall(r"//([a-z-]+):(\d+)", source["url"])[0]
    assert int(port) in listening(host, services[host])
    [provider] = yaml.safe_load((provisioning / "dashboards" / "kafkalab.yml").read_text())[
        "providers"
    ]
    dashboards = mounts[provider["options"]["path"]]
    files = sorted(dashboards.glob("*.json"))
    assert files, "no dashboard JSON is provisioned"
    home = env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()
    for path in files:
        dashboard = json.loads(path.read_text())
        uids = {
            panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel
        }
        assert uids == {source["uid"]}, f"{path.name} uses data sources {uids}"
