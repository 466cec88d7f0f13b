"""Is there a cluster (and a schema registry) to read from? One sentence when there is not.

The observe commands read topics back. Against a stopped broker librdkafka would retry
quietly until a timeout and the reader would find "no events" — a wrong answer, not an error;
against a stopped registry every record would fail to decode and be skipped the same way. So
they ask first, with a short timeout and librdkafka's own logging silenced.
"""

from __future__ import annotations

import socket

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import ClusterNotRunning, RegistryError

PROBE_TIMEOUT = 5.0


def topic_names(conn: Connection, timeout: float = PROBE_TIMEOUT) -> set[str]:
    """The topics on the cluster; ClusterNotRunning when no broker answers."""
    not_running = ClusterNotRunning(
        f"no Kafka broker answers at {conn.bootstrap_servers}",
        "start it with `kafkalab up` (or set KAFKALAB_CLIENT_PROPERTIES / KAFKALAB_BOOTSTRAP "
        "to a running cluster)",
    )
    if not any(_listening(address) for address in conn.bootstrap_servers.split(",")):
        raise not_running  # at once: librdkafka would retry until the timeout
    admin = clients.admin(conn, log_level=0)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - KafkaException or a transport error: not running
        raise not_running from exc
    return set(metadata.topics)


def _listening(address: str, timeout: float = 1.0) -> bool:
    """Does anything accept a TCP connection at `host:port`? (Not yet: is it Kafka.)"""
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def require_registry(conn: Connection) -> None:
    """RegistryError when the schema registry does not answer or refuses us (events could not
    be decoded)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError  # httpx: on use

    try:
        clients.schema_registry(conn).get_subjects()
    except SchemaRegistryError as exc:
        if exc.http_status_code in (401, 403):
            raise RegistryError(
                f"the schema registry at {conn.registry_url} refused the login "
                f"(HTTP {exc.http_status_code})",
                "set its user:password in basic.auth.user.info (client properties) or "
                "KAFKALAB_REGISTRY_AUTH",
            ) from exc
        raise RegistryError(
            f"the schema registry at {conn.registry_url} answered {exc.http_status_code}: "
            f"{exc.error_message}",
            "`kafkalab cluster status` shows it",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - httpx or a transport error: either way, unusable
        raise RegistryError(
            f"the schema registry at {conn.registry_url} does not answer, so "
            f"no event can be decoded ({type(exc).__name__})",
            "start it with `kafkalab up`; `kafkalab cluster status` shows it",
        ) from exc
