"""Kafka's own command-line tools (`kafka-consumer-groups.sh`, `kafka-console-consumer.sh`, …),
run from the jars kafkalab already caches for the broker, against the cluster kafkalab knows.

The real tool classes run unchanged; kafkalab only adds what the shell scripts would have you
type each time: `--bootstrap-server`, and on a SASL/TLS cluster a `--command-config` file with
the Java client's settings for this connection (written 0600, deleted when the tool ends). A
flag the caller gives wins: with their own `--bootstrap-server` or `--command-config`, kafkalab
adds nothing. Each run starts a small JVM (about a second or two).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kafkalab.cluster import provision
from kafkalab.cluster.java import find_java
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings

HEAP = "-Xmx128m"
LOG_CONFIG = Path(__file__).with_name("tools-log4j2.properties")
"""Kafka's scripts log their tools' warnings to stderr; without a config log4j2 prints errors
on stdout, between a console consumer's records."""


@dataclass(frozen=True)
class Tool:
    name: str
    """As the shell script is named, without `kafka-` and `.sh`."""
    main_class: str
    about: str


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "topics",
            "org.apache.kafka.tools.TopicCommand",
            "create, list, describe, alter, delete topics",
        ),
        Tool(
            "consumer-groups",
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "list and describe consumer groups; reset or delete their offsets",
        ),
        Tool(
            "console-consumer",
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "print a topic's records",
        ),
        Tool(
            "console-share-consumer",
            "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
            "print a topic's records as a member of a share group (KIP-932)",
        ),
        Tool(
            "console-producer",
            "org.apache.kafka.tools.ConsoleProducer",
            "write the lines typed on stdin as records",
        ),
        Tool(
            "get-offsets",
            "org.apache.kafka.tools.GetOffsetShell",
            "a partition's earliest, latest or by-time offset",
        ),
        Tool(
            "configs",
            "kafka.admin.ConfigCommand",
            "describe and alter topic, broker, client and group configs",
        ),
        Tool(
            "transactions",
            "org.apache.kafka.tools.TransactionsCommand",
            "list, describe and abort transactions",
        ),
        Tool("acls", "org.apache.kafka.tools.AclCommand", "list, add and remove ACLs"),
        Tool(
            "delete-records",
            "org.apache.kafka.tools.DeleteRecordsCommand",
            "delete a partition's records below an offset",
        ),
        Tool(
            "groups",
            "org.apache.kafka.tools.GroupsCommand",
            "list groups of every type (classic, consumer, share, streams)",
        ),
        Tool(
            "share-groups",
            "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
            "list, describe, reset and delete share groups",
        ),
        Tool(
            "streams-groups",
            "org.apache.kafka.tools.streams.StreamsGroupCommand",
            "list and describe streams groups (Kafka Streams)",
        ),
        Tool(
            "log-dirs",
            "org.apache.kafka.tools.LogDirsCommand",
            "the brokers' log directories and partition sizes",
        ),
        Tool(
            "metadata-quorum",
            "org.apache.kafka.tools.MetadataQuorumCommand",
            "the KRaft controller quorum's status and replication",
        ),
        Tool(
            "features",
            "org.apache.kafka.tools.FeatureCommand",
            "the cluster's feature versions (metadata.version, …)",
        ),
        Tool(
            "broker-api-versions",
            "org.apache.kafka.tools.BrokerApiVersionsCommand",
            "the API versions each broker supports",
        ),
        Tool(
            "leader-election",
            "org.apache.kafka.tools.LeaderElectionCommand",
            "elect partition leaders (preferred or unclean)",
        ),
        Tool(
            "reassign-partitions",
            "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
            "move partition replicas between brokers",
        ),
        Tool(
            "producer-perf-test",
            "org.apache.kafka.tools.ProducerPerformance",
            "measure producer throughput and latency",
        ),
        Tool(
            "consumer-perf-test",
            "org.apache.kafka.tools.ConsumerPerformance",
            "measure consumer throughput",
        ),
    )
}

_SERVER_FLAGS = ("--bootstrap-server", "--bootstrap-controller")
_CONFIG_FLAG = "--command-config"
_HELP_FLAGS = ("--help", "-h", "--version")
_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


class UnknownTool(KafkalabError):
    hint = "`kafkalab kafka --help` lists the tools"


class ToolNeedsConfig(KafkalabError):
    hint = (
        "write the Java client's settings (ssl.keystore.*) in a file and pass it with "
        "--command-config FILE"
    )


def find_tool(name: str) -> Tool:
    """The tool for `consumer-groups`, `kafka-consumer-groups` or `kafka-consumer-groups.sh`."""
    short = name.removesuffix(".sh").removeprefix("kafka-")
    tool = TOOLS.get(short)
    if tool is not None:
        return tool
    close = difflib.get_close_matches(short, TOOLS, n=1)
    hint = f"did you mean `kafkalab kafka {close[0]}`?" if close else UnknownTool.hint
    raise UnknownTool(f"kafkalab knows no Kafka tool called {name!r}", hint)


def _given(args: Sequence[str], flags: Sequence[str]) -> bool:
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in args for flag in flags)


def asks_for_help(args: Sequence[str]) -> bool:
    """`--help`/`--version`: the tool prints and exits, no cluster needed."""
    return any(arg in _HELP_FLAGS for arg in args)


def java_client_properties(conn: Connection) -> dict[str, str]:
    """The connection's security as Java client settings (empty for plain PLAINTEXT).

    librdkafka and the Java client name TLS differently: a PEM CA file is
    `ssl.truststore.type=PEM` + `ssl.truststore.location`, and the SASL login is a JAAS line."""
    props: dict[str, str] = {}
    if conn.security_protocol != "PLAINTEXT":
        props["security.protocol"] = conn.security_protocol
    if conn.sasl_mechanism:
        module = _JAAS_MODULES[conn.sasl_mechanism]
        props["sasl.mechanism"] = conn.sasl_mechanism
        props["sasl.jaas.config"] = (
            f"{module} required username={_jaas_quote(conn.sasl_username or '')} "
            f"password={_jaas_quote(conn.sasl_password or '')};"
        )
    if conn.ssl_ca_location:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = conn.ssl_ca_location
    if conn.ssl_certificate_location or conn.ssl_key_location:
        raise ToolNeedsConfig(
            "this cluster wants a client certificate, which kafkalab cannot hand to Kafka's "
            "Java tools"
        )
    identification = dict(conn.extra).get("ssl.endpoint.identification.algorithm")
    if identification is not None:  # librdkafka's "none" is the Java client's empty value
        props["ssl.endpoint.identification.algorithm"] = (
            "" if identification == "none" else identification
        )
    return props


def render_properties(props: dict[str, str]) -> str:
    """A .properties file as java.util.Properties reads it (backslashes escaped)."""
    return "".join(f"{key}={_escape(value)}\n" for key, value in props.items())


def tool_command(
    java: str,
    classpath: Path,
    tool: Tool,
    args: Sequence[str],
    bootstrap: str,
    config_file: Path | None = None,
) -> list[str]:
    """`java … <tool class> [--bootstrap-server B] [--command-config F] ARGS`.

    Kafka's options go first: tools with sub-commands (transactions, metadata-quorum) take them
    only before the sub-command. Nothing is added for `--help`, or where the caller set it."""
    extra: list[str] = []
    if not asks_for_help(args):
        if not _given(args, _SERVER_FLAGS):
            extra += ["--bootstrap-server", bootstrap]
        if config_file is not None and not _given(args, [_CONFIG_FLAG]):
            extra += [_CONFIG_FLAG, str(config_file)]
    return [
        java,
        HEAP,
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",  # a short-lived tool: start fast rather than run fast
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG_CONFIG}",
        "-cp",
        f"{classpath}/*",
        tool.main_class,
        *extra,
        *args,
    ]


def run_tool(
    settings: Settings,
    conn: Connection,
    name: str,
    args: Sequence[str],
    capture: bool = False,
    progress: provision.Progress | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run Kafka's tool `name` with `args` against `conn`; its exit status and (with
    `capture`) its output. Without capture it shares this terminal: stdin for the console
    producer, Ctrl-C to stop a console consumer (which then closes and leaves its group)."""
    tool = find_tool(name)
    java = find_java(settings)
    classpath = provision.ensure_jars(settings, progress)
    props = {} if asks_for_help(args) else java_client_properties(conn)
    with _config_file(props) as config_file:
        cmd = tool_command(java.path, classpath, tool, args, conn.bootstrap_servers, config_file)
        if capture:
            return subprocess.run(cmd, capture_output=True, text=True, check=False)
        process = subprocess.Popen(cmd)
        try:
            code = process.wait()
        except KeyboardInterrupt:  # the terminal's Ctrl-C reached the JVM too: let it close
            try:
                code = process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        return subprocess.CompletedProcess(cmd, code)


@contextlib.contextmanager
def open_tool(
    settings: Settings, conn: Connection, name: str, args: Sequence[str]
) -> Iterator[subprocess.Popen[str]]:
    """Start Kafka's tool `name` and hand back its running process, stdout and stderr piped
    together as text: for a tool that runs until it is stopped, such as a console consumer
    read line by line. Leaving the block stops it as Ctrl-C does (SIGTERM: the tool's shutdown
    hook closes its client, which leaves its group) and waits for it to end."""
    tool = find_tool(name)
    java = find_java(settings)
    classpath = provision.ensure_jars(settings)
    with _config_file(java_client_properties(conn)) as config_file:
        cmd = tool_command(java.path, classpath, tool, args, conn.bootstrap_servers, config_file)
        process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _config_file(props: dict[str, str]) -> Iterator[Path | None]:
    """A 0600 properties file for `--command-config` (it may hold a password), or None."""
    if not props:
        yield None
        return
    handle, name = tempfile.mkstemp(prefix="kafkalab-tool-", suffix=".properties")
    path = Path(name)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(render_properties(props))
        yield path
    finally:
        path.unlink(missing_ok=True)


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")
