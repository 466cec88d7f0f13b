"""The registry's HTTP face: Confluent Schema Registry's REST API over `SchemaStore`.

`Api.handle` turns one request into (status, body) using a small route table; `RegistryServer`
is the stdlib threading HTTP server that feeds it. Every failure becomes Confluent's error body
`{"error_code": N, "message": "..."}`, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kafkalab.cluster.registry.compatibility import AVRO
from kafkalab.cluster.registry.errors import (
    ApiError,
    InvalidCompatibilityLevel,
    InvalidSchemaError,
    SchemaNotFound,
    SubjectConfigNotFound,
    SubjectNotFound,
)
from kafkalab.cluster.registry.store import (
    RegistryState,
    SchemaStore,
    parse_version,
    valid_level,
    valid_schema,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class BadRequest(ApiError):
    """The body is not a JSON object (Confluent answers 400 with error code 400)."""

    status, code = 400, 400


@dataclass(frozen=True)
class Request:
    """One request, with path parameters already URL-decoded (subjects may contain `/`)."""

    params: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def flag(self, name: str) -> bool:
        """A boolean query flag. The Python client spells them `True`/`False`: any case works."""
        return self.query.get(name, "").strip().lower() == "true"

    def number(self, name: str, default: int) -> int:
        try:
            return int(self.query.get(name, default))
        except ValueError:
            return default

    def json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body or b"null")
        except ValueError as exc:
            raise BadRequest(f"Unexpected character in the request body: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        return body

    def schema(self) -> tuple[str, str]:
        """(schema text, type) from a registration-style body, checked."""
        body = self.json()
        if body.get("references"):
            raise InvalidSchemaError("Schema references are not supported by kafkalab's registry")
        return valid_schema(body.get("schema"), body.get("schemaType"))


@dataclass(frozen=True)
class Raw:
    """A body sent as-is (a schema's own JSON) rather than dumped as JSON again."""

    text: str


Handler = Callable[["Api", Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []
_SEGMENT = r"(?P<{}>[^/]+)"


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Add the decorated handler to ROUTES; `{name}` in `path` is one path segment."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", lambda m: _SEGMENT.format(m[1]), path) + "$")

    def add(handler: Handler) -> Handler:
        ROUTES.append(Route(method, pattern, handler))
        return handler

    return add


def _page(items: list[Any], request: Request) -> list[Any]:
    """Confluent's offset/limit paging (the Python client always sends offset=0&limit=-1)."""
    offset = max(0, request.number("offset", 0))
    limit = request.number("limit", -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]


def _schema_body(schema: str, schema_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": schema}
    if schema_type != AVRO:
        body["schemaType"] = schema_type
    return body


class Api:
    """Confluent's endpoints as methods; `handle` dispatches a request to one of them."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store

    def handle(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """(HTTP status, body) for one request. Never raises."""
        try:
            status, result = 200, self._dispatch(method, path, query, body)
        except ApiError as exc:
            status, result = exc.status, {"error_code": exc.code, "message": exc.message}
        except Exception:
            log.exception("%s %s failed", method, path)
            status, result = 500, {"error_code": 500, "message": "Internal Server Error"}
        if isinstance(result, Raw):
            return status, result.text.encode()
        return status, json.dumps(result).encode()

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        path = path.rstrip("/") or "/"
        allowed = False
        for candidate in ROUTES:
            match = candidate.pattern.match(path)
            if match is None:
                continue
            if candidate.method != method:
                allowed = True
                continue
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            return candidate.handler(self, Request(params, query, body))
        if allowed:
            raise _http_error(405, "HTTP 405 Method Not Allowed")
        raise _http_error(404, "HTTP 404 Not Found")

    # --- Root, types, mode

    @route("GET", "/")
    def root(self, request: Request) -> Any:
        return {}

    @route("GET", "/schemas/types")
    def schema_types(self, request: Request) -> Any:
        return [AVRO]

    @route("GET", "/mode")
    def mode(self, request: Request) -> Any:
        return {"mode": "READWRITE"}

    @route("GET", "/mode/{subject}")
    def subject_mode(self, request: Request) -> Any:
        return {"mode": "READWRITE"}

    # --- Subjects

    @route("GET", "/subjects")
    def subjects(self, request: Request) -> Any:
        prefix = request.query.get("subjectPrefix") or request.query.get("subject") or ""
        names = self.store.read(
            lambda s: s.subject_names(request.flag("deleted"), request.flag("deleted_only"))
        )
        return _page([name for name in names if name.startswith(prefix)], request)

    @route("GET", "/subjects/{subject}/versions")
    def versions(self, request: Request) -> Any:
        subject = request.params["subject"]
        deleted_only = request.flag("deleted_only")

        def numbers(state: RegistryState) -> list[int]:
            found = state.versions(subject, deleted=request.flag("deleted") or deleted_only)
            if not found:
                raise SubjectNotFound(subject)
            return [r.version for r in found if r.deleted or not deleted_only]

        return _page(self.store.read(numbers), request)

    @route("GET", "/subjects/{subject}/versions/{version}")
    def version(self, request: Request) -> Any:
        return self._version(request).response()

    @route("GET", "/subjects/{subject}/versions/{version}/schema")
    def version_schema(self, request: Request) -> Any:
        return Raw(self._version(request).schema)

    @route("GET", "/subjects/{subject}/versions/{version}/referencedby")
    def referenced_by(self, request: Request) -> Any:
        self._version(request)
        return []  # references are not supported, so nothing can refer to a version

    def _version(self, request: Request) -> Any:
        subject = request.params["subject"]
        number = parse_version(request.params["version"])
        return self.store.read(lambda s: s.lookup(subject, number, request.flag("deleted")))

    @route("POST", "/subjects/{subject}/versions")
    def register(self, request: Request) -> Any:
        schema, schema_type = request.schema()
        return {"id": self.store.register(request.params["subject"], schema, schema_type)}

    @route("POST", "/subjects/{subject}")
    def lookup(self, request: Request) -> Any:
        subject = request.params["subject"]
        schema, _ = request.schema()
        deleted = request.flag("deleted")

        def find(state: RegistryState) -> Any:
            if not state.versions(subject, deleted):
                raise SubjectNotFound(subject)
            found = state.find(subject, schema, deleted)
            if found is None:
                raise SchemaNotFound()
            return found.response()

        return self.store.read(find)

    @route("DELETE", "/subjects/{subject}")
    def delete_subject(self, request: Request) -> Any:
        return self.store.delete_subject(request.params["subject"], request.flag("permanent"))

    @route("DELETE", "/subjects/{subject}/versions/{version}")
    def delete_version(self, request: Request) -> Any:
        number = parse_version(request.params["version"])
        return self.store.delete_version(
            request.params["subject"], number, request.flag("permanent")
        )

    # --- Schemas by id

    @route("GET", "/schemas/ids/{id}")
    def schema_by_id(self, request: Request) -> Any:
        stored = self.store.read(lambda s: s.schema(_schema_id(request)))
        return _schema_body(stored.schema, stored.schema_type)

    @route("GET", "/schemas/ids/{id}/schema")
    def raw_schema_by_id(self, request: Request) -> Any:
        return Raw(self.store.read(lambda s: s.schema(_schema_id(request))).schema)

    @route("GET", "/schemas/ids/{id}/versions")
    def schema_versions(self, request: Request) -> Any:
        found = self.store.read(lambda s: s.usages(_schema_id(request), request.flag("deleted")))
        return _page([{"subject": r.subject, "version": r.version} for r in found], request)

    @route("GET", "/schemas/ids/{id}/subjects")
    def schema_subjects(self, request: Request) -> Any:
        found = self.store.read(lambda s: s.usages(_schema_id(request), request.flag("deleted")))
        return _page(sorted({r.subject for r in found}), request)

    # --- Compatibility levels

    @route("GET", "/config")
    def global_config(self, request: Request) -> Any:
        return {"compatibilityLevel": self.store.read(lambda s: s.level()).value}

    @route("PUT", "/config")
    def set_global_config(self, request: Request) -> Any:
        return self._set_level(None, request)

    @route("DELETE", "/config")
    def delete_global_config(self, request: Request) -> Any:
        return {"compatibilityLevel": self.store.delete_level(None).value}

    @route("GET", "/config/{subject}")
    def subject_config(self, request: Request) -> Any:
        subject = request.params["subject"]

        def level(state: RegistryState) -> str:
            if subject in state.configs or request.flag("defaultToGlobal"):
                return state.level(subject).value
            raise SubjectConfigNotFound(subject)

        return {"compatibilityLevel": self.store.read(level)}

    @route("PUT", "/config/{subject}")
    def set_subject_config(self, request: Request) -> Any:
        return self._set_level(request.params["subject"], request)

    @route("DELETE", "/config/{subject}")
    def delete_subject_config(self, request: Request) -> Any:
        return {"compatibilityLevel": self.store.delete_level(request.params["subject"]).value}

    def _set_level(self, subject: str | None, request: Request) -> Any:
        body = request.json()
        name = body.get("compatibility") or body.get("compatibilityLevel")
        if name is None:
            raise InvalidCompatibilityLevel("Invalid compatibility level: none given")
        level = valid_level(name)
        self.store.set_level(subject, level)
        return {"compatibility": level.value}

    # --- Compatibility tests

    @route("POST", "/compatibility/subjects/{subject}/versions/{version}")
    def test_version(self, request: Request) -> Any:
        number = parse_version(request.params["version"])
        return self._test(request, number, against_all=False)

    @route("POST", "/compatibility/subjects/{subject}/versions")
    def test_all(self, request: Request) -> Any:
        return self._test(request, None, against_all=True)

    def _test(self, request: Request, version: int | None, against_all: bool) -> Any:
        schema, _ = request.schema()
        problems = self.store.compatibility(request.params["subject"], schema, version, against_all)
        body: dict[str, Any] = {"is_compatible": not problems}
        if request.flag("verbose"):
            body["messages"] = problems
        return body


def _schema_id(request: Request) -> int:
    try:
        return int(request.params["id"])
    except ValueError:
        raise SchemaNotFound() from None


def _http_error(status: int, message: str) -> ApiError:
    error = ApiError(message)
    error.status, error.code = status, status
    return error


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, hands it to `Api.handle`, writes the answer. Keep-alive capable."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive answer would
    # wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: RegistryServer

    def _serve(self) -> None:
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length, self.close_connection = 0, True  # the unread body would poison keep-alive
        body = self.rfile.read(length) if length > 0 else b""
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        status, payload = self.server.api.handle(self.command, url.path, query, body)
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


class RegistryServer(ThreadingHTTPServer):
    """Binds `host:port` at once (so a port in use fails fast); serves once `serve_forever` runs.

    Requests that arrive before that wait in the listen backlog, which is how the registry
    answers only after its store has caught up with `_schemas`.
    """

    daemon_threads = True

    def __init__(self, host: str, port: int, store: SchemaStore) -> None:
        super().__init__((host, port), _Handler)
        self.api = Api(store)
