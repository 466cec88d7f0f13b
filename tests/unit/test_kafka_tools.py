"""`kafkalab kafka TOOL`: which tool a name means, the command line kafkalab builds around the
caller's arguments, and the Java client settings for a secure cluster — all without a JVM."""

import subprocess
from pathlib import Path

import pytest

from kafkalab.cluster import provision, tools
from kafkalab.cluster.java import JavaRuntime
from kafkalab.connection import Connection
from kafkalab.settings import load_settings
from tests.helpers import NOWHERE, run_cli
from tests.unit.test_cli_errors import assert_one_line_error

SECURE = Connection(
    "127.0.0.1:9192",
    "http://127.0.0.1:8081",
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="admin",
    sasl_password='p"a\\ss',
    ssl_ca_location="/data/security/ca.pem",
)


@pytest.mark.parametrize(
    "name", ["consumer-groups", "kafka-consumer-groups", "kafka-consumer-groups.sh"]
)
def test_a_tool_is_named_like_its_script(name: str) -> None:
    tool = tools.find_tool(name)
    assert tool.main_class == "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


def test_a_near_miss_is_answered_with_the_right_name() -> None:
    with pytest.raises(tools.UnknownTool) as caught:
        tools.find_tool("consumer-group")
    assert caught.value.message == "kafkalab knows no Kafka tool called 'consumer-group'"
    assert caught.value.hint == "did you mean `kafkalab kafka consumer-groups`?"


def test_the_tools_jar_is_pinned_with_the_broker_jars() -> None:
    assert f"kafka-tools-{provision.KAFKA_VERSION}.jar" in provision.pinned_checksums()


def test_kafkalab_adds_the_bootstrap_server_before_the_callers_arguments() -> None:
    tool = tools.find_tool("transactions")
    cmd = tools.tool_command("java", Path("/libs"), tool, ["list"], "127.0.0.1:9092")
    assert cmd[cmd.index(tool.main_class) :] == [
        tool.main_class,
        "--bootstrap-server",
        "127.0.0.1:9092",
        "list",
    ]
    assert "-Xmx128m" in cmd and "/libs/*" in cmd


def test_the_callers_own_flags_win() -> None:
    tool = tools.find_tool("topics")
    mine = ["--bootstrap-server=elsewhere:9092", "--command-config", "mine.properties", "--list"]
    cmd = tools.tool_command("java", Path("/libs"), tool, mine, "127.0.0.1:9092", Path("x"))
    assert cmd[cmd.index(tool.main_class) + 1 :] == mine


def test_help_is_passed_on_alone() -> None:
    tool = tools.find_tool("consumer-groups")
    cmd = tools.tool_command("java", Path("/libs"), tool, ["--help"], "127.0.0.1:9092", Path("x"))
    assert cmd[-2:] == [tool.main_class, "--help"]


def test_a_plaintext_cluster_needs_no_command_config() -> None:
    assert tools.java_client_properties(NOWHERE) == {}


def test_a_secure_cluster_is_described_as_the_java_client_wants_it() -> None:
    props = tools.java_client_properties(SECURE)
    assert props == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="admin" password="p\\"a\\\\ss";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": "/data/security/ca.pem",
    }
    # java.util.Properties reads a backslash as an escape: each one is doubled in the file
    # (a JVM reads this line back as the password p"a\ss)
    assert r'password="p\\"a\\\\ss";' + "\n" in tools.render_properties(props)


def test_a_client_certificate_is_refused_with_a_way_out() -> None:
    mtls = Connection("b:9093", "http://r", "SSL", ssl_certificate_location="c.pem")
    with pytest.raises(tools.ToolNeedsConfig) as caught:
        tools.java_client_properties(mtls)
    assert "--command-config" in caught.value.hint


def test_the_command_config_file_is_private_and_removed() -> None:
    with tools._config_file({"security.protocol": "SASL_SSL"}) as path:
        assert path is not None
        assert path.stat().st_mode & 0o077 == 0
        assert path.read_text() == "security.protocol=SASL_SSL\n"
    assert not path.exists()


def test_help_lists_every_tool() -> None:
    run = run_cli("kafka", "--help")
    assert run.code == 0
    for name in tools.TOOLS:
        assert f"  {name}  " in run.stdout


def test_a_wrong_tool_name_is_one_sentence() -> None:
    run = run_cli("kafka", "consumer-group", "--list")
    assert_one_line_error(run, 1, "kafkalab knows no Kafka tool called 'consumer-group'")
    assert "did you mean `kafkalab kafka consumer-groups`?" in run.stderr


def test_no_tool_is_a_usage_error() -> None:
    assert_one_line_error(run_cli("kafka"), 2, "Missing argument 'tool'")


def test_no_cluster_is_one_sentence_not_a_java_timeout(tmp_path: Path) -> None:
    env = {"KAFKALAB_BOOTSTRAP": "127.0.0.1:9", "KAFKALAB_DATA_DIR": str(tmp_path)}
    run = run_cli("kafka", "topics", "--list", env=env)
    assert_one_line_error(run, 1, "no Kafka broker answers at 127.0.0.1:9")


def test_a_tool_runs_with_the_java_and_jars_kafkalab_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **_: object) -> object:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "out", "")

    settings = load_settings(data_dir=tmp_path)
    monkeypatch.setattr(tools, "find_java", lambda s: JavaRuntime("/bin/java", "17.0.15", 17))
    monkeypatch.setattr(tools.provision, "ensure_jars", lambda s, p=None: Path("/jars"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    done = tools.run_tool(settings, SECURE, "consumer-groups", ["--list"], capture=True)
    assert done.stdout == "out"
    [cmd] = seen
    assert cmd[0] == "/bin/java" and "/jars/*" in cmd
    config = cmd[cmd.index("--command-config") + 1]
    assert not Path(config).exists()  # removed once the tool ended


def test_tools_log_to_stderr_as_kafkas_scripts_do() -> None:
    """A console consumer's stdout then carries records only, not its log lines."""
    tool = tools.find_tool("kafka-console-share-consumer.sh")
    assert tool.main_class == "org.apache.kafka.tools.consumer.ConsoleShareConsumer"
    cmd = tools.tool_command("java", Path("/libs"), tool, ["--topic", "t"], "127.0.0.1:9092")
    assert f"-Dlog4j2.configurationFile={tools.LOG_CONFIG}" in cmd
    assert "appender.stderr.target = SYSTEM_ERR" in tools.LOG_CONFIG.read_text()
