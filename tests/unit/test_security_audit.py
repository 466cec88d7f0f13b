"""Audit plumbing that needs no broker: the 401/403 hook of the HTTP server, record values,
and secure mode refusing a data dir formatted without it."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from kafkalab.cluster import lifecycle
from kafkalab.cluster.state import ClusterState
from kafkalab.errors import ClusterMismatch
from kafkalab.security.audit import AuditEntry, login_principal
from kafkalab.services.http import HttpError, Request, Response, Route, ServiceHttpServer
from kafkalab.settings import load_settings
from tests.helpers import free_port


def test_refusals_reach_the_hook_and_other_answers_do_not() -> None:
    seen: list[tuple[str, int]] = []

    def guarded(request: Request) -> Response:
        if "authorization" not in request.headers:
            raise HttpError(401, "no token")
        if request.body == {"ask": "too much"}:
            raise HttpError(403, "not yours")
        if request.body == {"ask": "nonsense"}:
            raise HttpError(422, "bad input")
        return Response(200, {"ok": True})

    server = ServiceHttpServer(
        "127.0.0.1",
        free_port(),
        [Route("POST", "/orders", guarded)],
        on_refusal=lambda req, err: seen.append((req.path, err.status)),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    try:
        auth = {"Authorization": "Bearer x"}
        assert httpx.post(url, json={}).status_code == 401
        assert httpx.post(url, json={"ask": "too much"}, headers=auth).status_code == 403
        assert httpx.post(url, json={"ask": "nonsense"}, headers=auth).status_code == 422
        assert httpx.post(url, json={}, headers=auth).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [("/orders", 401), ("/orders", 403)]


def test_record_value_and_login_principal_keep_the_email_off_the_topic() -> None:
    value = AuditEntry("anonymous", "http POST", "/orders", False, "401").value("order")
    assert value["outcome"] == "DENIED" and value["reporter"] == "order"
    who = login_principal("Ada@Example.com")
    assert who.startswith("login:") and "ada" not in who.lower().removeprefix("login:")
    assert who == login_principal(" ada@example.com ")


def test_secure_up_refuses_a_plain_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    ClusterState("id", 1, "4.3.1").save(settings)
    with pytest.raises(ClusterMismatch) as raised:
        lifecycle.up(settings, secure=True)
    assert "without security" in str(raised.value)
    assert "reset" in (raised.value.hint or "")


def test_old_state_files_read_as_plain(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    ClusterState.path(settings).write_text(
        '{"cluster_id": "x", "brokers": 1, "kafka_version": "4.3.1"}'
    )
    state = ClusterState.load(settings)
    assert state is not None and state.secure is False
