"""The two schema-registry calls the platform's own readers and writers make, over urllib.

Why not confluent-kafka's `SchemaRegistryClient`: importing it pulls in httpx, authlib,
pydantic and cryptography, ~1 s of CPU in every process that starts. Every service replica,
`kafkalab verify` and every restart after a chaos kill paid it, for two requests per schema:
register a writer schema under its subject, and fetch a schema by id. Both answers are
cached for the process's life (a registered schema never changes). The lessons, the console
and the smoke round trip keep confluent's client: it is what a learner uses.

The wire format is the Confluent API our registry (`kafkalab.cluster.registry`) serves: basic
auth and a private CA in secure mode, as `Connection.registry()` configures confluent's client.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
TIMEOUT_SECONDS = 10.0


class SchemaRequestFailed(KafkalabError):
    """The registry refused or did not answer. `http_status_code` and `error_code` have the
    names confluent's SchemaRegistryError gives them, so `explained.error_name` reads a 409
    (an incompatible schema) from either."""

    hint = (
        "check that the registry runs (`kafkalab cluster status`) and that the schema is compatible"
    )

    def __init__(self, message: str, http_status_code: int = -1, error_code: int = -1) -> None:
        super().__init__(message)
        self.http_status_code = http_status_code
        self.error_code = error_code


class SchemaClient:
    """`register(subject, text)` → schema id, `schema_text(id)` → the schema's JSON text."""

    def __init__(self, conn: Connection) -> None:
        self.url = conn.registry_url.rstrip("/")
        self._headers = {"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE}
        if conn.registry_user_info:
            token = base64.b64encode(conn.registry_user_info.encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._tls = (
            ssl.create_default_context(cafile=conn.registry_ca_location)
            if self.url.startswith("https:")
            else None
        )
        self._ids: dict[tuple[str, str], int] = {}
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()  # one registration per subject, not one per thread

    def register(self, subject: str, text: str) -> int:
        found = self._ids.get((subject, text))
        if found is not None:
            return found
        with self._lock:
            found = self._ids.get((subject, text))
            if found is None:
                path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
                found = int(self._call("POST", path, {"schema": text})["id"])
                self._ids[(subject, text)] = found
                self._texts.setdefault(found, text)
        return found

    def schema_text(self, schema_id: int) -> str:
        found = self._texts.get(schema_id)
        if found is None:
            found = str(self._call("GET", f"/schemas/ids/{int(schema_id)}", None)["schema"])
            self._texts[schema_id] = found
        return found

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers=self._headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=self._tls) as r:
                answer = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _error_body(exc)
            raise SchemaRequestFailed(
                f"the schema registry answered {exc.code} to {method} {path}: "
                f"{detail.get('message', exc.reason)}",
                http_status_code=exc.code,
                error_code=int(detail.get("error_code", -1)),
            ) from exc
        except (OSError, ValueError) as exc:  # refused, timed out, TLS, not JSON
            raise SchemaRequestFailed(
                f"the schema registry at {self.url} did not answer {method} {path}: {exc}"
            ) from exc
        if not isinstance(answer, dict):
            raise SchemaRequestFailed(
                f"the schema registry answered {method} {path} with {answer!r}"
            )
        return answer


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        found = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
