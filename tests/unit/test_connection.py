"""The Connection value: what librdkafka and the registry client get from it, and a client
properties file read into it (bring your own cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkalab.cluster import connect
from kafkalab.cluster.state import ClusterState
from kafkalab.connection import (
    Connection,
    ConnectionConfigError,
    from_properties,
    parse_properties,
)
from kafkalab.security.material import SecurityFiles, write_secret
from kafkalab.settings import load_settings

CLOUD = """
# a managed cluster, as a console hands it out
bootstrap.servers=broker-1.example.com:9092,broker-2.example.com:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=API_KEY
sasl.password=a=secret:with:colons
schema.registry.url=https://registry.example.com/
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=SR_KEY:SR_SECRET
client.dns.lookup=use_all_dns_ips
"""


def test_a_plain_connection_is_just_the_address() -> None:
    conn = Connection("127.0.0.1:9092", "http://127.0.0.1:8081")
    assert conn.librdkafka() == {"bootstrap.servers": "127.0.0.1:9092"}
    assert conn.registry() == {"url": "http://127.0.0.1:8081"}
    assert conn.describe() == "127.0.0.1:9092"


def test_secrets_stay_out_of_the_repr() -> None:
    conn = Connection(
        "h:1", "http://r", "SASL_SSL", "PLAIN", "me", "hunter2", registry_user_info="k:s"
    )
    assert "hunter2" not in repr(conn) and "k:s" not in repr(conn)
    assert conn.describe() == "h:1 over SASL_SSL as me"


def test_a_managed_cluster_properties_file() -> None:
    conn = from_properties(parse_properties(CLOUD), "cloud.properties")
    assert conn.librdkafka() == {
        "bootstrap.servers": "broker-1.example.com:9092,broker-2.example.com:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "API_KEY",
        "sasl.password": "a=secret:with:colons",
    }
    assert conn.registry() == {
        "url": "https://registry.example.com",
        "basic.auth.user.info": "SR_KEY:SR_SECRET",
    }
    assert not conn.secure_mode  # a foreign cluster: no sealed fields, no per-service users


def test_the_java_jaas_line_gives_the_login() -> None:
    text = (
        "bootstrap.servers=h:9093\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="alice" password="s3cr\\"et";\nschema.registry.url=http://r:8081\n'
    )
    conn = from_properties(parse_properties(text), "java.properties")
    assert (conn.sasl_username, conn.sasl_password) == ("alice", 's3cr\\"et')
    assert conn.sasl_mechanism == "SCRAM-SHA-256"


def test_the_registry_from_settings_wins_over_the_file() -> None:
    conn = from_properties(
        parse_properties(CLOUD), "f", registry_url="http://mine:8081", registry_user_info="u:p"
    )
    assert conn.registry() == {"url": "http://mine:8081", "basic.auth.user.info": "u:p"}


def test_tls_files_are_checked_and_kept(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = f"bootstrap.servers=h:1\nsecurity.protocol=SSL\nssl.ca.location={ca}\n"
    text += "schema.registry.url=https://r\n"
    conn = from_properties(parse_properties(text), "f")
    assert conn.librdkafka()["ssl.ca.location"] == str(ca)
    assert conn.registry()["ssl.ca.location"] == str(ca)  # an https registry trusts it too
    with pytest.raises(ConnectionConfigError, match="ssl.ca.location .* is not a file"):
        from_properties(parse_properties(text.replace("ca.pem", "gone.pem")), "f")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("security.protocol=SASL_SSL\n", "has no bootstrap.servers"),
        ("bootstrap.servers=h:1\nsecurity.protocol=TLS\n", "'TLS' is not one of"),
        ("bootstrap.servers=h:1\nsecurity.protocol=SASL_SSL\n", "needs sasl.mechanism"),
        ("bootstrap.servers=h:1\nsasl.mechanism=GSSAPI\n", "'GSSAPI' is not one of"),
        ("bootstrap.servers=h:1\nssl.truststore.location=/x.jks\n", "Java client setting"),
        ("bootstrap.servers=h:1\n", "names no schema registry"),
        ("just words\n", "not a `name=value` line"),
    ],
)
def test_a_bad_file_is_one_sentence(text: str, message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message) as raised:
        from_properties(parse_properties(text), "bad.properties")
    assert raised.value.hint


def test_resolve_reads_a_properties_file_once(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(CLOUD)
    conn = connect.resolve(load_settings(data_dir=tmp_path, client_properties=path))
    assert conn.bootstrap_servers.startswith("broker-1.example.com")
    path.unlink()  # nothing reads it again: the value is the connection
    assert conn.librdkafka()["sasl.password"] == "a=secret:with:colons"
    with pytest.raises(ConnectionConfigError, match="cannot read the client properties file"):
        connect.resolve(load_settings(data_dir=tmp_path, client_properties=path))


def test_resolve_a_local_cluster_from_its_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_port=9100, secure_port=9200)
    assert connect.resolve(settings).bootstrap_servers == "127.0.0.1:9100"
    ClusterState("id", 3, "4.3.1", secure=False).save(settings)
    assert connect.resolve(settings).bootstrap_servers == (
        "127.0.0.1:9100,127.0.0.1:9101,127.0.0.1:9102"
    )


def test_resolve_a_secure_local_cluster_as_its_own_user(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secure_port=9200)
    ClusterState("id", 1, "4.3.1", secure=True).save(settings)
    files = SecurityFiles.of(settings)
    write_secret(files.passwords, b'{"admin": "pa", "payment": "pp"}')
    admin = connect.resolve(settings)
    assert (admin.sasl_username, admin.sasl_password) == ("admin", "pa")
    assert admin.secure_mode and admin.ssl_ca_location == str(files.ca_cert)
    assert admin.bootstrap_servers == "127.0.0.1:9200"
    payment = connect.resolve(settings.model_copy(update={"principal": "payment"}))
    assert (payment.sasl_username, payment.sasl_password) == ("payment", "pp")
