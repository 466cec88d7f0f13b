"""How a process reaches Kafka and the schema registry: one value, resolved once at an edge.

A CLI command, a service's `main` or a test fixture resolves a `Connection` (from the local
cluster's data dir, an address, or a client properties file: `kafkalab.cluster.connect`) and
passes it down; `kafkalab.clients` builds every producer, consumer, admin and registry client
from it without reading a file or the environment again (quixstreams' `ConnectionConfig` is the
model). It holds secrets, so its repr leaves them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from kafkalab.errors import KafkalabError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConnectionConfigError(KafkalabError):
    hint = (
        "a client properties file holds librdkafka settings, one `name=value` per line: "
        "bootstrap.servers, security.protocol, sasl.mechanism, sasl.username, sasl.password, "
        "ssl.ca.location (see README, 'Your own cluster')"
    )


@dataclass(frozen=True)
class Connection:
    """Where the brokers and the registry are and how to log in to them."""

    bootstrap_servers: str
    registry_url: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    registry_user_info: str | None = field(default=None, repr=False)
    """`user:password` for a registry behind HTTP basic auth (a managed registry)."""
    registry_ca_location: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    """Other librdkafka settings from a properties file, passed through as they are."""
    secure_mode: bool = False
    """kafkalab's own secure cluster (`cluster up --secure`): every service is its own SCRAM
    user, ACLs apply and sensitive fields are sealed. A foreign SASL_SSL cluster is not."""

    @property
    def principal(self) -> str | None:
        """The user this connection logs in as (None without SASL)."""
        return self.sasl_username

    def librdkafka(self) -> dict[str, str]:
        """The connection as librdkafka settings (bootstrap, security, TLS, the extras)."""
        conf = {"bootstrap.servers": self.bootstrap_servers}
        if self.security_protocol != "PLAINTEXT":
            conf["security.protocol"] = self.security_protocol
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        conf.update({key: value for key, value in optional.items() if value is not None})
        conf.update(dict(self.extra))
        return conf

    def registry(self) -> dict[str, str]:
        """The registry part as confluent-kafka's `SchemaRegistryClient` configuration."""
        conf = {"url": self.registry_url}
        if self.registry_user_info:
            conf["basic.auth.user.info"] = self.registry_user_info
        if self.registry_ca_location:
            conf["ssl.ca.location"] = self.registry_ca_location
        return conf

    def as_user(self, username: str, password: str) -> Connection:
        """The same cluster, logged in as someone else (SASL only)."""
        return replace(self, sasl_username=username, sasl_password=password)

    def describe(self) -> str:
        """One line for messages: the address, the protocol and the user."""
        who = f" as {self.sasl_username}" if self.sasl_username else ""
        how = "" if self.security_protocol == "PLAINTEXT" else f" over {self.security_protocol}"
        return f"{self.bootstrap_servers}{how}{who}"


# -- a client properties file -----------------------------------------------------------------

_REGISTRY_KEYS = {
    "schema.registry.url",
    "basic.auth.user.info",
    "schema.registry.basic.auth.user.info",
    "basic.auth.credentials.source",
    "schema.registry.basic.auth.credentials.source",
    "schema.registry.ssl.ca.location",
}
_JAVA_ONLY = {
    "ssl.truststore.location": "ssl.ca.location (a PEM file of the CA)",
    "ssl.truststore.password": "ssl.ca.location (a PEM file needs no password)",
    "ssl.truststore.type": "ssl.ca.location (a PEM file)",
    "ssl.keystore.location": "ssl.certificate.location and ssl.key.location (PEM files)",
    "ssl.keystore.password": "ssl.key.password",
}
_IGNORED_JAVA = {"client.dns.lookup", "ssl.endpoint.identification.algorithm", "session.timeout.ms"}
_JAAS = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_properties(text: str) -> dict[str, str]:
    """`name=value` (or `name: value`) lines; `#` and `!` start a comment, as in Java's
    .properties files. Values keep inner spaces; a trailing backslash continues a line."""
    props: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if match is None:
            raise ConnectionConfigError(f"not a `name=value` line: {line!r}")
        props[match.group(1)] = match.group(2).strip()
    return props


def from_properties(
    props: dict[str, str],
    source: str,
    registry_url: str | None = None,
    registry_user_info: str | None = None,
) -> Connection:
    """A Connection from client properties (librdkafka names; the Java client's
    `sasl.jaas.config` is read for its username and password). The registry comes from the
    arguments when given, else from `schema.registry.url` / `basic.auth.user.info` in the file."""
    props = dict(props)
    for key, instead in _JAVA_ONLY.items():
        if key in props:
            raise ConnectionConfigError(
                f"{source}: {key} is a Java client setting that librdkafka does not read",
                hint=f"use {instead} instead",
            )
    bootstrap = props.pop("bootstrap.servers", "").strip()
    if not bootstrap:
        raise ConnectionConfigError(f"{source} has no bootstrap.servers")
    protocol = props.pop("security.protocol", "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise ConnectionConfigError(
            f"{source}: security.protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}"
        )
    mechanism = props.pop("sasl.mechanism", None) or props.pop("sasl.mechanisms", None)
    if mechanism is not None and mechanism.upper() not in MECHANISMS:
        raise ConnectionConfigError(
            f"{source}: sasl.mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}",
            hint="OAUTHBEARER and GSSAPI are not supported by kafkalab's connection file",
        )
    username = props.pop("sasl.username", None)
    password = props.pop("sasl.password", None)
    jaas = props.pop("sasl.jaas.config", None)
    if jaas and username is None:
        fields = dict(_JAAS.findall(jaas))
        username, password = fields.get("username"), fields.get("password")
    if protocol.startswith("SASL") and (mechanism is None or not username or password is None):
        raise ConnectionConfigError(
            f"{source}: security.protocol {protocol} needs sasl.mechanism, sasl.username "
            "and sasl.password"
        )
    url = registry_url or props.get("schema.registry.url")
    if not url:
        raise ConnectionConfigError(
            f"{source} names no schema registry",
            hint="add schema.registry.url to the file, or set KAFKALAB_REGISTRY_URL",
        )
    user_info = (
        registry_user_info
        or props.get("schema.registry.basic.auth.user.info")
        or props.get("basic.auth.user.info")
    )
    registry_ca = props.get("schema.registry.ssl.ca.location")
    for key in _REGISTRY_KEYS | _IGNORED_JAVA:
        props.pop(key, None)
    paths = {
        key: str(Path(props.pop(key)).expanduser())
        for key in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")
        if key in props
    }
    for key, path in paths.items():
        if not Path(path).is_file():
            raise ConnectionConfigError(f"{source}: {key} {path} is not a file")
    ca = paths.get("ssl.ca.location")
    return Connection(
        bootstrap_servers=bootstrap,
        registry_url=url.rstrip("/"),
        security_protocol=protocol,
        sasl_mechanism=mechanism.upper() if mechanism else None,
        sasl_username=username,
        sasl_password=password,
        ssl_ca_location=ca,
        ssl_certificate_location=paths.get("ssl.certificate.location"),
        ssl_key_location=paths.get("ssl.key.location"),
        ssl_key_password=props.pop("ssl.key.password", None),
        registry_user_info=user_info,
        registry_ca_location=registry_ca or (ca if url.startswith("https") else None),
        extra=tuple(sorted(props.items())),
    )
