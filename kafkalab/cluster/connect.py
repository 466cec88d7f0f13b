"""Resolve this process's `Connection`: the one place that reads where the cluster is.

Called once at an edge (a CLI command, a service's `main`, a test fixture), after the cluster
it describes has been started. Three sources, in this order:
1. `client_properties`: a librdkafka properties file for a cluster kafkalab did not start
   (a multi-broker or managed cluster; SASL_SSL with PLAIN or SCRAM);
2. `bootstrap`: an address of a PLAINTEXT cluster kafkalab did not start;
3. the local cluster in the data dir: its size and mode from `cluster.json`, and in secure
   mode this process's SCRAM password from the 0600 password file.
"""

from __future__ import annotations

from pathlib import Path

from kafkalab.cluster.state import ClusterState
from kafkalab.connection import Connection, ConnectionConfigError, from_properties, parse_properties
from kafkalab.security.material import ADMIN, SecurityFiles, password
from kafkalab.settings import Settings


def resolve(settings: Settings, principal: str | None = None) -> Connection:
    """The connection for `principal` (default: `settings.principal`, else admin; it only
    matters on kafkalab's own secure cluster, where every service is its own SCRAM user)."""
    registry_auth = settings.registry_login()
    if settings.client_properties is not None:
        return from_properties(
            parse_properties(_read(settings.client_properties)),
            str(settings.client_properties),
            registry_url=settings.registry_url,
            registry_user_info=registry_auth,
        )
    url = settings.schema_registry_url()
    if settings.bootstrap:
        return Connection(settings.bootstrap, url, registry_user_info=registry_auth)
    state = ClusterState.load(settings)
    brokers = state.brokers if state else 1
    if not (state and state.secure):
        return Connection(
            settings.bootstrap_servers(brokers), url, registry_user_info=registry_auth
        )
    who = principal or settings.principal or ADMIN
    return Connection(
        settings.bootstrap_servers(brokers, secure=True),
        url,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=who,
        sasl_password=password(settings, who),
        ssl_ca_location=str(SecurityFiles.of(settings).ca_cert),
        registry_user_info=registry_auth,
        secure_mode=True,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConnectionConfigError(
            f"cannot read the client properties file {path}: {exc.strerror}",
            hint="check KAFKALAB_CLIENT_PROPERTIES",
        ) from exc
