"""The registry's optional HTTP basic auth (KAFKALAB_REGISTRY_AUTH), as a managed registry asks:
the exact login or 401. The live check is tests/integration/test_own_cluster.py."""

from __future__ import annotations

import base64
from typing import Any, cast

from kafkalab.cluster.registry.server import RegistryServer

NO_STORE = cast(Any, None)  # the check runs before any endpoint touches the store


def basic(login: str) -> str:
    return "Basic " + base64.b64encode(login.encode()).decode()


def test_without_a_login_everything_is_allowed() -> None:
    server = RegistryServer("127.0.0.1", 0, NO_STORE)
    try:
        assert server.authorized(None) and server.authorized("Basic whatever")
    finally:
        server.server_close()


def test_with_a_login_only_that_login_passes() -> None:
    server = RegistryServer("127.0.0.1", 0, NO_STORE, "learner:pass:with:colons")
    try:
        assert server.authorized(basic("learner:pass:with:colons"))
        assert not server.authorized(None)
        assert not server.authorized(basic("learner:wrong"))
        assert not server.authorized("Bearer learner:pass:with:colons")
    finally:
        server.server_close()
