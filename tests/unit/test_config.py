import re
from pathlib import Path

import yaml

from kafkalab.catalogue import metrics
from kafkalab.cluster import config, provision
from kafkalab.settings import load_settings


def parse(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_single_node_is_combined_kraft_with_replication_one(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    nodes = config.node_specs(settings, 1)
    props = parse(config.render_properties(settings, nodes[0], nodes))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19092"
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,PROXIED://127.0.0.1:9192,CONTROLLER://127.0.0.1:19092"
    )
    # The PROXIED listener advertises toxiproxy's port, so proxied clients stay proxied.
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:9092,PROXIED://127.0.0.1:9159")
    assert "PROXIED:PLAINTEXT" in props["listener.security.protocol.map"]
    assert props["log.dirs"] == str(tmp_path / "broker-1" / "data")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key


def test_three_nodes_share_a_quorum_with_rf3_and_min_isr2(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    nodes = config.node_specs(settings, 3)
    assert [n.port for n in nodes] == [9092, 9093, 9094]
    assert [n.controller_port for n in nodes] == [19092, 19093, 19094]
    props = parse(config.render_properties(settings, nodes[1], nodes))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19092,2@127.0.0.1:19093,3@127.0.0.1:19094"
    )
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:9093,PROXIED://127.0.0.1:9193,CONTROLLER://127.0.0.1:19093"
    )
    assert props["advertised.listeners"].endswith("PROXIED://127.0.0.1:9160")
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"


def test_secure_mode_closes_plaintext_and_enforces_acls(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    nodes = config.node_specs(settings, 1)
    plain = parse(config.render_properties(settings, nodes[0], nodes))
    assert "SASL_SSL" not in plain["listeners"]
    assert "authorizer.class.name" not in plain
    secure = config.SecureListener(tmp_path / "k.pem", tmp_path / "ca.pem", "admin", "s3cret")
    props = parse(config.render_properties(settings, nodes[0], nodes, secure))
    assert props["listeners"] == (
        "SASL_SSL://127.0.0.1:9192,MTLS://127.0.0.1:9092,CONTROLLER://127.0.0.1:19092"
    )
    assert "PLAINTEXT:" not in props["listener.security.protocol.map"]
    # The plain client port speaks TLS with a required client certificate (lesson 18's mTLS).
    assert "MTLS:SSL" in props["listener.security.protocol.map"]
    assert props["listener.name.mtls.ssl.client.auth"] == "required"
    assert "ssl.client.auth" not in props  # SASL_SSL clients need no certificate
    assert props["listener.name.mtls.ssl.principal.mapping.rules"].endswith(",DEFAULT")
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["ssl.keystore.type"] == "PEM"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"


def test_format_adds_scram_users(tmp_path: Path) -> None:
    node = config.node_specs(load_settings(data_dir=tmp_path), 1)[0]
    cmd = config.storage_format_command("java", tmp_path, node, "id", ["SCRAM-SHA-512=[name=a]"])
    assert cmd[-2:] == ["--add-scram", "SCRAM-SHA-512=[name=a]"]


def test_ports_follow_settings(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_port=39092, controller_port=39192)
    nodes = config.node_specs(settings, 3)
    assert [n.port for n in nodes] == [39092, 39093, 39094]
    assert settings.bootstrap_servers(3) == "127.0.0.1:39092,127.0.0.1:39093,127.0.0.1:39094"


def test_jvm_command_runs_kafka_main_with_a_small_heap(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    node = config.node_specs(settings, 1)[0]
    cmd = config.jvm_command("java", tmp_path / "libs", settings, node)
    assert cmd[0] == "java"
    assert "-Xmx512m" in cmd
    assert cmd[-2:] == ["kafka.Kafka", str(node.properties_file)]
    assert f"{tmp_path / 'libs'}/*" in cmd


def test_each_broker_starts_the_jmx_exporter_agent_on_its_own_port(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_metrics_port=39404)
    nodes = config.node_specs(settings, 3)
    assert [n.metrics_port for n in nodes] == [39404, 39405, 39406]
    cmd = config.jvm_command("java", tmp_path / "libs", settings, nodes[1])
    agent = f"-javaagent:{tmp_path / 'libs' / provision.JMX_EXPORTER_JAR}"
    assert f"{agent}=127.0.0.1:39405:{nodes[1].jmx_exporter_file}" in cmd
    assert cmd.index(f"{agent}=127.0.0.1:39405:{nodes[1].jmx_exporter_file}") < cmd.index("-cp")
    assert provision.JMX_EXPORTER_JAR in provision.pinned_checksums()  # fetched with the jars


def test_metrics_port_zero_starts_the_broker_without_the_agent(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_metrics_port=0)
    node = config.node_specs(settings, 1)[0]
    assert node.metrics_port == 0
    assert not any(
        arg.startswith("-javaagent") for arg in config.jvm_command("java", tmp_path, settings, node)
    )


def test_the_agent_reads_only_the_mbeans_its_rules_name() -> None:
    exporter = yaml.safe_load(config.render_jmx_exporter())
    assert exporter["includeObjectNames"] == list(config.JMX_OBJECT_NAMES)
    names = {rule["name"] for rule in exporter["rules"]}
    broker = {spec.name for spec in metrics.exported_by(metrics.BROKER)}
    assert names == broker  # the catalogue lists what the agent exports, and nothing more
    assert all(re.compile(rule["pattern"]) for rule in exporter["rules"])


def test_log4j_writes_to_the_node_log_dir(tmp_path: Path) -> None:
    node = config.node_specs(load_settings(data_dir=tmp_path), 1)[0]
    assert f"fileName = {node.logs / 'server.log'}" in config.render_log4j(node)


def test_share_groups_heartbeat_every_second_and_may_lock_briefly(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    nodes = config.node_specs(settings, 1)
    props = parse(config.render_properties(settings, nodes[0], nodes))
    assert props["group.share.heartbeat.interval.ms"] == "1000"
    assert props["group.share.min.heartbeat.interval.ms"] == "1000"
    assert props["group.share.min.record.lock.duration.ms"] == "1000"
    assert props["share.coordinator.state.topic.num.partitions"] == "10"
