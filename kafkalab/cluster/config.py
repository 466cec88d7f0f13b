"""Render the KRaft configuration of each local node (and its log4j2 file).

Pure functions from Settings to text, so the rendering is unit-tested without a JVM. One node
runs in combined mode (`process.roles=broker,controller`); three nodes form a static
controller quorum with replication factor 3 and min.insync.replicas 2. Each node's JVM also
starts Prometheus' JMX exporter as a Java agent (`render_jmx_exporter`), which serves a few of
the broker's own JMX metrics on its /metrics port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kafkalab.cluster import provision
from kafkalab.settings import Settings


@dataclass(frozen=True)
class NodeSpec:
    """Where one node listens and keeps its data."""

    node_id: int
    port: int
    controller_port: int
    secure_port: int
    home: Path
    metrics_port: int = 0  # the JMX exporter agent's /metrics; 0: no agent
    proxy_port: int = 0  # toxiproxy's port for this node: what the PROXIED listener advertises

    @property
    def log_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def jmx_exporter_file(self) -> Path:
        return self.home / "jmx-exporter.yml"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def name(self) -> str:
        return f"broker-{self.node_id}"


@dataclass(frozen=True)
class SecureListener:
    """TLS + SCRAM material for the SASL_SSL listener (provided by the security work)."""

    keystore_pem: Path
    truststore_pem: Path
    admin_user: str
    admin_password: str


def node_specs(settings: Settings, brokers: int) -> list[NodeSpec]:
    return [
        NodeSpec(
            node_id=i + 1,
            port=settings.broker_port + i,
            controller_port=settings.controller_port + i,
            secure_port=settings.secure_port + i,
            home=settings.data_dir / f"broker-{i + 1}",
            metrics_port=settings.broker_metrics_port + i if settings.broker_metrics_port else 0,
            proxy_port=settings.proxy_ports(brokers)[i],
        )
        for i in range(brokers)
    ]


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for internal and default topics."""
    return (3, 2) if brokers >= 3 else (1, 1)


def render_properties(
    settings: Settings,
    node: NodeSpec,
    nodes: list[NodeSpec],
    secure: SecureListener | None = None,
) -> str:
    """server.properties for `node` in a cluster of `nodes`."""
    host = settings.host
    rf, min_isr = replication(len(nodes))
    voters = ",".join(f"{n.node_id}@{host}:{n.controller_port}" for n in nodes)
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        **(_secure_listeners(host, node, secure) if secure else _plain_listeners(host, node)),
        "log.dirs": node.log_dir,
        "num.partitions": 1,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        # Share groups (KIP-932, lesson 21) are on by default in 4.3 (share.version=1). Their
        # state topic gets 10 partitions like the offsets topic (50 by default, created when the
        # first share group starts). Members heartbeat every second, as KIP-848 members do below:
        # at the 5 s default a new share consumer waits up to 5 s for its first assignment.
        # The minimum record lock drops to 1 s so a lesson's group can ask for a lock of a few
        # seconds (share.record.lock.duration.ms) and show a lost record coming back; the 30 s
        # default lock stays for every other group.
        "share.coordinator.state.topic.num.partitions": 10,
        "group.share.heartbeat.interval.ms": 1000,
        "group.share.min.heartbeat.interval.ms": 1000,
        "group.share.min.record.lock.duration.ms": 1000,
        # A learner's consumer should join at once, not after the 3 s production default.
        "group.initial.rebalance.delay.ms": 0,
        # KIP-848 groups (group.protocol=consumer) heartbeat at the broker's pace, 5 s by
        # default and never faster than the minimum: 1 s lets lesson 7 show a rebalance in
        # about as long as the classic protocol takes with the same heartbeat.
        "group.consumer.heartbeat.interval.ms": 1000,
        "group.consumer.min.heartbeat.interval.ms": 1000,
        # Two cores: fewer threads than the defaults sized for a server.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        # The cleaner looks for a dirty compacted log every second instead of every 15: a look
        # at a teaching cluster's few small logs costs next to nothing, and compaction (lesson
        # 11) then shows within seconds of a segment closing.
        "log.cleaner.backoff.ms": 1000,
    }
    lines = ["# Written by kafkalab; edits are replaced at the next `kafkalab cluster up`."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


PROXIED = "PROXIED"
"""The plain listener a service reaches through toxiproxy (`kafkalab chaos latency …`). It
listens on the node's secure port, which plain mode leaves unused, and advertises toxiproxy's
port for the node: a client that bootstraps through a proxy is told the proxies' addresses, so
it stays behind them for every broker it talks to."""


def _plain_listeners(host: str, node: NodeSpec) -> dict[str, object]:
    proxied = f"{PROXIED}://{host}:{node.secure_port}"
    return {
        "listeners": f"PLAINTEXT://{host}:{node.port},{proxied},"
        f"CONTROLLER://{host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{node.port},"
        f"{PROXIED}://{host}:{node.proxy_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        f"SASL_SSL:SASL_SSL,{PROXIED}:PLAINTEXT",
    }


MTLS = "MTLS"
"""Secure mode's second client listener, on the node's plain client port (`broker_port` + i,
which secure mode does not otherwise open): TLS with a client certificate (mutual TLS)."""

MTLS_PRINCIPAL_RULE = "RULE:^CN=([^,]+),OU=kafkalab$/$1/,DEFAULT"
"""`ssl.principal.mapping.rules` of the mTLS listener: a certificate's subject (RFC 2253 form)
`CN=name,OU=kafkalab` logs in as User:name; any other subject as User:<the whole subject>."""


def _secure_listeners(host: str, node: NodeSpec, secure: SecureListener) -> dict[str, object]:
    """Secure mode: no PLAINTEXT client port at all. Clients and brokers use SASL_SSL (SCRAM,
    TLS from kafkalab's CA); clients may instead log in with a certificate from kafkalab's CA on
    the MTLS listener (lesson 18); the controller port is SASL_PLAINTEXT with PLAIN for admin
    only (KRaft cannot use SCRAM there: SCRAM users live in the metadata the controller serves).
    So no principal is anonymous anywhere, and ANONYMOUS needs no super-user grant."""
    scram = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{secure.admin_user}" password="{secure.admin_password}";'
    )
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{secure.admin_user}" password="{secure.admin_password}" '
        f'user_{secure.admin_user}="{secure.admin_password}";'
    )
    listeners = f"SASL_SSL://{host}:{node.secure_port},{MTLS}://{host}:{node.port}"
    return {
        "listeners": f"{listeners},CONTROLLER://{host}:{node.controller_port}",
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": f"CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,{MTLS}:SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain,
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": secure.keystore_pem,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": secure.truststore_pem,
        # The mTLS listener: TLS alone, and the client must present a certificate kafkalab's CA
        # signed (the handshake fails without one). Its subject is the login: the rule turns
        # `CN=dashboard,OU=kafkalab` into User:dashboard; any other subject stays whole.
        f"listener.name.{MTLS.lower()}.ssl.client.auth": "required",
        f"listener.name.{MTLS.lower()}.ssl.principal.mapping.rules": MTLS_PRINCIPAL_RULE,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{secure.admin_user}",
        "allow.everyone.if.no.acl.found": "false",
    }


def render_log4j(node: NodeSpec) -> str:
    """log4j2 configuration: the broker's own log in `<node>/logs/server.log`, rolled at 20 MB."""
    log = node.logs / "server.log"
    return "\n".join(
        [
            "status = warn",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {log}",
            f"appender.file.filePattern = {log}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 20MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = file",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "",
        ]
    )


# Request types whose counts `kafkalab load` shows beside Produce and FetchConsumer: what the
# services' commits and transactions cost the broker per order (one of each per batch).
COMMIT_REQUESTS = (
    "OffsetCommit",
    "TxnOffsetCommit",
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
)

# The broker MBeans lesson 19 shows, plus the request counts of `kafkalab load`, and nothing
# else: the agent reads only these at each scrape (a broker has thousands of MBeans; reading
# them all costs CPU on a 2-core machine).
JMX_OBJECT_NAMES = (
    "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
    "kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
    "kafka.controller:type=KafkaController,name=ActiveControllerCount",
    "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce",
    "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=FetchConsumer",
    *(f"kafka.network:type=RequestMetrics,name=TotalTimeMs,request={r}" for r in COMMIT_REQUESTS),
)


def render_jmx_exporter() -> str:
    """The JMX exporter agent's rules: each MBean's value under a Prometheus name, and request
    latency as quantiles in seconds (Kafka's own histograms are in milliseconds)."""
    names = "\n".join(f'  - "{name}"' for name in JMX_OBJECT_NAMES)
    return f"""# Prometheus' JMX exporter (java agent), written by kafkalab: the broker's own metrics.
lowercaseOutputName: true
lowercaseOutputLabelNames: true
includeObjectNames:
{names}
rules:
  - pattern: 'kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value'
    name: kafka_server_replicamanager_underreplicatedpartitions
    help: Partitions led by this broker with fewer in-sync replicas than replicas
    type: GAUGE
  - pattern: 'kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value'
    name: kafka_controller_kafkacontroller_offlinepartitionscount
    help: Partitions with no leader, so no reads or writes, as this controller sees them
    type: GAUGE
  - pattern: 'kafka.controller<type=KafkaController, name=ActiveControllerCount><>Value'
    name: kafka_controller_kafkacontroller_activecontrollercount
    help: 1 on the active KRaft controller, 0 elsewhere
    type: GAUGE
  - pattern: 'kafka.network<type=RequestMetrics, name=TotalTimeMs, request=(\\w+)><>(\\d+)thPercentile'
    name: kafka_network_requestmetrics_totaltime_seconds
    help: Time from receiving a request to sending its response, by request type
    type: GAUGE
    valueFactor: 0.001
    labels:
      request: "$1"
      quantile: "0.$2"
  - pattern: 'kafka.network<type=RequestMetrics, name=TotalTimeMs, request=(\\w+)><>Count'
    name: kafka_network_requestmetrics_requests_total
    help: Requests handled, by request type
    type: COUNTER
    labels:
      request: "$1"
"""


def jvm_command(java: str, classpath: Path, settings: Settings, node: NodeSpec) -> list[str]:
    """`java … kafka.Kafka server.properties` with a heap and GC fit for a 2-core laptop, and
    the JMX exporter agent serving the broker's metrics on `node.metrics_port` (unless 0)."""
    agent = (
        [
            f"-javaagent:{classpath / provision.JMX_EXPORTER_JAR}="
            f"{settings.host}:{node.metrics_port}:{node.jmx_exporter_file}"
        ]
        if node.metrics_port
        else []
    )
    return [
        java,
        *settings.heap.split(),
        *settings.jvm_options.split(),
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        *agent,
        f"-Dlog4j2.configurationFile={node.log4j_file}",
        f"-Dkafka.logs.dir={node.logs}",
        "-cp",
        f"{classpath}/*",
        "kafka.Kafka",
        str(node.properties_file),
    ]


def storage_format_command(
    java: str, classpath: Path, node: NodeSpec, cluster_id: str, scram: list[str] | None = None
) -> list[str]:
    """Kafka's own storage tool: formats the node's log dir for `cluster_id`.

    `scram` entries become `--add-scram` records in the bootstrap metadata: the admin user must
    exist before the first start because the brokers authenticate to each other as admin."""
    extra = [arg for entry in scram or [] for arg in ("--add-scram", entry)]
    return [
        java,
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j2.configurationFile={node.log4j_file}",
        "-cp",
        f"{classpath}/*",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(node.properties_file),
        "--ignore-formatted",
        *extra,
    ]
