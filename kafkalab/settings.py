"""The one configuration object: every tunable kafkalab has, read from KAFKALAB_* env vars.

Commands pass flags on top with `load_settings(**overrides)`; nothing else reads the
environment. `kafkalab doctor` prints the resolved values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ALLOWED_BROKER_COUNTS = (1, 3)


class Settings(BaseSettings):
    """Resolved configuration. Frozen: derive a new one with `model_copy(update=...)`."""

    model_config = SettingsConfigDict(env_prefix="KAFKALAB_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=Path(".kafkalab"), description="Broker data, logs, pid files and registry state."
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "kafkalab",
        description="Where the Kafka jars are cached (kafka-<version>/ below it).",
    )
    bootstrap: str | None = Field(
        default=None,
        description="Use an existing cluster (PLAINTEXT, this address) instead of starting one.",
    )
    client_properties: Path | None = Field(
        default=None,
        description="Use an existing cluster described by a librdkafka client properties file "
        "(bootstrap.servers, security.protocol, sasl.*, ssl.*; schema.registry.url too).",
    )
    host: str = Field(default="127.0.0.1", description="Loopback address every port binds to.")
    broker_port: int = Field(
        default=9092,
        description="Client port of broker 1 (+1 per broker); in secure mode, its mTLS listener.",
    )
    controller_port: int = Field(default=19092, description="KRaft controller port of node 1.")
    secure_port: int = Field(
        default=9192, description="SASL_SSL port of broker 1 (+1 per broker), used in secure mode."
    )
    principal: str | None = Field(
        default=None,
        description="SCRAM user this process connects as in secure mode (default: admin; "
        "each service gets its own name from the supervisor).",
    )
    broker_metrics_port: int = Field(
        default=9404,
        description="Prometheus /metrics of broker 1's JMX exporter agent (+1 per broker); 0 "
        "starts the brokers without the agent.",
    )
    registry_port: int = Field(default=8081, description="Schema registry HTTP port.")
    prometheus_port: int = Field(
        default=9090,
        description="Port of the Prometheus server `kafkalab monitoring up` (or `up "
        "--monitoring`) runs.",
    )
    prometheus: str = Field(
        default="prometheus",
        description="The Prometheus server binary (Debian's `prometheus` package installs it).",
    )
    registry_url: str | None = Field(
        default=None, description="Use an existing Confluent-compatible schema registry."
    )
    registry_auth: SecretStr | None = Field(
        default=None, description="`user:password` for that registry's HTTP basic auth."
    )
    toxiproxy: str | None = Field(
        default=None,
        description="The toxiproxy-server binary for network chaos (default: the one "
        "scripts/bootstrap builds in the cache dir, else toxiproxy-server on PATH).",
    )
    toxiproxy_port: int | None = Field(
        default=None,
        description="Toxiproxy's HTTP API port (default: broker_port + 66).",
    )
    proxy_port: int | None = Field(
        default=None,
        description="Where toxiproxy listens for broker 1 (+1 per broker), the address the "
        "brokers' PROXIED listener advertises (default: broker_port + 67).",
    )
    via_proxy: bool = Field(
        default=False,
        description="Connect to Kafka through toxiproxy (set by the supervisor for a service "
        "that `kafkalab chaos latency|bandwidth|reset-peer|partition` hurts).",
    )
    heap: str = Field(default="-Xms128m -Xmx512m", description="JVM heap flags per broker.")
    jvm_options: str = Field(
        default="",
        description="More JVM flags per broker, e.g. -XX:TieredStopAtLevel=1: the client "
        "compiler only, so a broker starts and idles on less CPU but runs slower under load "
        "(the test suite's brokers use it).",
    )
    java: str | None = Field(
        default=None, description="Path to the java binary (else JAVA_HOME, PATH)."
    )
    mvn: str = Field(default="mvn", description="Maven binary used to fetch the broker jars.")
    start_timeout: float = Field(
        default=60.0, description="Seconds to wait for a broker to answer."
    )

    service_port: int = Field(
        default=8101, description="HTTP port of the first service (user); the others follow."
    )
    console_port: int = Field(
        default=3000,
        description="HTTP port of the web console (`kafkalab up` runs it beside the services; "
        "0: no console).",
    )
    reservation_ttl: float = Field(
        default=10.0, description="Seconds inventory holds stock for an unpaid order."
    )
    request_timeout: float = Field(
        default=5.0,
        description="Seconds order waits for inventory's stock-check reply "
        "(stock_check request-reply).",
    )
    stock_check: Literal["table", "request-reply"] = Field(
        default="table",
        description="How order checks stock before it accepts POST /orders: `table` looks in its "
        "own copy of the compacted `stock` topic (no round trip); `request-reply` asks inventory "
        "over Kafka and waits up to request_timeout for the answer (lesson 13), which costs "
        "about half as much CPU again per order and answers 504 while inventory is down.",
    )
    publish_timeout: float = Field(
        default=25.0,
        description="Seconds a service waits for Kafka to acknowledge the write behind an HTTP "
        "request before it answers 503 with Retry-After: longer than a leader election after a "
        "broker dies (broker.session.timeout.ms, 9 s, plus the election itself).",
    )
    payment_failure_rate: float = Field(
        default=0.0, description="Injected transient gateway failure rate (0-1), for load/chaos."
    )
    payment_latency_ms: int = Field(default=0, description="Injected gateway latency per charge.")
    replica: int = Field(
        default=0, description="Which replica of a service this process is (set by the supervisor)."
    )
    listen_port: int | None = Field(
        default=None,
        description="HTTP port of this service process (set by the supervisor; default: "
        "service_port + the service's index + 10 per replica).",
    )
    scenarios_dir: Path | None = Field(
        default=None, description="A folder of your own TOML scenarios (beside ./scenarios/)."
    )
    workspace: Path | None = Field(
        default=None,
        description="The folder of your exercise files (default: the one `kafkalab init` made, "
        "or lessons/ in a clone).",
    )
    token_secret: str | None = Field(
        default=None,
        description="HMAC key that signs login tokens (default: a random key kept 0600 in the data dir).",
    )

    @field_validator("data_dir", "cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("client_properties", "scenarios_dir", "workspace")
    @classmethod
    def _absolute_or_none(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def external(self) -> bool:
        """True when kafkalab uses a cluster it did not start (an address or a properties
        file): it then never starts, stops or formats brokers itself."""
        return bool(self.bootstrap or self.client_properties)

    def registry_login(self) -> str | None:
        """`user:password` for the registry's basic auth, or None (KAFKALAB_REGISTRY_AUTH)."""
        return self.registry_auth.get_secret_value() if self.registry_auth else None

    def schema_registry_url(self) -> str:
        return self.registry_url or f"http://{self.host}:{self.registry_port}"

    def broker_ports(self, brokers: int) -> list[int]:
        return [self.broker_port + i for i in range(brokers)]

    def bootstrap_servers(self, brokers: int = 1, secure: bool = False) -> str:
        """The bootstrap list clients use: the override, or every local broker's address
        (the SASL_SSL ports in secure mode, where no port speaks plaintext; toxiproxy's
        proxies with `via_proxy`)."""
        if self.bootstrap:
            return self.bootstrap
        if self.via_proxy and not secure:
            return ",".join(f"{self.host}:{port}" for port in self.proxy_ports(brokers))
        first = self.secure_port if secure else self.broker_port
        return ",".join(f"{self.host}:{first + i}" for i in range(brokers))

    def toxiproxy_api_port(self) -> int:
        return self.toxiproxy_port or self.broker_port + 66

    def proxy_ports(self, brokers: int) -> list[int]:
        """Toxiproxy's listening port for each broker: what the PROXIED listener advertises."""
        first = self.proxy_port or self.broker_port + 67
        return [first + i for i in range(brokers)]


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as KAFKALAB_* variables, so a child process (supervisor, service) sees
    exactly the configuration its parent resolved, flags and test overrides included."""
    return {
        f"KAFKALAB_{name.upper()}": str(
            value.get_secret_value() if isinstance(value, SecretStr) else value
        )
        for name, value in settings.model_dump().items()
        if value is not None
    }


def load_settings(**overrides: object) -> Settings:
    """Read the environment once and apply explicit overrides (flags win over env vars)."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
