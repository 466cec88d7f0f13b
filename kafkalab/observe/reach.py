"""Is there a cluster (and a schema registry) to read from? One sentence when there is not.

The observe commands read topics back. Against a stopped broker librdkafka would retry
quietly until a timeout and the reader would find "no events" — a wrong answer, not an error;
against a stopped registry every record would fail to decode and be skipped the same way. So
they ask first, with a short timeout and librdkafka's own logging silenced.
"""

from __future__ import annotations

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.errors import ClusterNotRunning, RegistryError

PROBE_TIMEOUT = 5.0


def topic_names(conn: Connection, timeout: float = PROBE_TIMEOUT) -> set[str]:
    """The topics on the cluster; ClusterNotRunning when no broker answers."""
    admin = clients.admin(conn, log_level=0)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - KafkaException or a transport error: not running
        raise ClusterNotRunning(
            f"no Kafka broker answers at {conn.bootstrap_servers}",
            "start it with `kafkalab up` (or set KAFKALAB_BOOTSTRAP to a running cluster)",
        ) from exc
    return set(metadata.topics)


def require_registry(conn: Connection) -> None:
    """RegistryError when the schema registry does not answer (events could not be decoded)."""
    try:
        clients.schema_registry(conn).get_subjects()
    except Exception as exc:  # noqa: BLE001 - httpx or a registry error: either way, unusable
        raise RegistryError(
            f"the schema registry at {conn.registry_url} does not answer, so "
            f"no event can be decoded ({type(exc).__name__})",
            "start it with `kafkalab up`; `kafkalab cluster status` shows it",
        ) from exc
