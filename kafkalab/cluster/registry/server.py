"""The registry's HTTP face: Confluent Schema Registry's REST API over `SchemaStore`.

`Api.handle` turns one request into (status, body, content type) using the route table in
`routing`; `RegistryServer` is the stdlib threading HTTP server that feeds it. Every failure
becomes Confluent's error body `{"error_code": N, "message": "..."}`, never a traceback.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kafkalab.cluster.registry.compatibility import AVRO, InvalidSchema, check_schema_type
from kafkalab.cluster.registry.errors import (
    ApiError,
    InvalidCompatibilityLevel,
    InvalidMode,
    InvalidSchemaError,
    SchemaNotFound,
    SubjectConfigNotFound,
    SubjectModeNotFound,
    SubjectNotFound,
)
from kafkalab.cluster.registry.records import ConfigRecord, Mode, SchemaRecord
from kafkalab.cluster.registry.routing import (
    ROUTES,
    V1_JSON,
    Raw,
    Request,
    content_type,
    http_error,
    page,
    route,
    writable_subject,
)
from kafkalab.cluster.registry.state import RegistryState
from kafkalab.cluster.registry.store import (
    Registration,
    SchemaStore,
    parse_version,
    valid_level,
    valid_schema,
)

log = logging.getLogger(__name__)

UNAUTHORIZED = {"error_code": 401, "message": "Unauthorized"}
"""Confluent's answer to a request without the right basic-auth credentials."""

DEFAULT_CONTEXT = "."


def _schema_body(schema: str, schema_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": schema}
    if schema_type != AVRO:
        body["schemaType"] = schema_type
    return body


def _config_body(config: ConfigRecord | None, fill_level: bool = True) -> dict[str, Any]:
    """Confluent's Config entity: only what is set, the level filled in with the default."""
    body: dict[str, Any] = {}
    if config is not None and config.normalize is not None:
        body["normalize"] = config.normalize
    if config is not None and config.level is not None:
        body["compatibilityLevel"] = config.level.value
    elif fill_level:
        body["compatibilityLevel"] = "BACKWARD"
    return body


def _registration(request: Request, **overrides: Any) -> Registration:
    """The schema part of a registration-style body. References are refused with 42201, the
    code Confluent gives a reference it cannot resolve: kafkalab's registry resolves none."""
    body = request.json()
    if body.get("references"):
        raise InvalidSchemaError(
            "Invalid schema: schema references are not supported by kafkalab's registry"
        )
    schema_type = body.get("schemaType")
    try:
        kind = check_schema_type(schema_type if isinstance(schema_type, str) else None)
    except InvalidSchema as exc:
        raise InvalidSchemaError(str(exc)) from None
    return Registration(
        schema=body.get("schema"),  # type: ignore[arg-type]  # checked when prepared
        schema_type=kind,
        normalize=request.flag("normalize"),
        **overrides,
    )


class Api:
    """Confluent's endpoints as methods; `handle` dispatches a request to one of them."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        accept: str | None = None,
    ) -> tuple[int, bytes, str]:
        """(HTTP status, body, content type) for one request. Never raises."""
        try:
            status, result = 200, self._dispatch(method, path, query, body)
        except ApiError as exc:
            status, result = exc.status, {"error_code": exc.code, "message": exc.message}
        except Exception:
            log.exception("%s %s failed", method, path)
            status, result = 500, {"error_code": 500, "message": "Internal Server Error"}
        kind = content_type(accept)
        if kind is None:
            kind, status = V1_JSON, 406
            result = {"error_code": 406, "message": "HTTP 406 Not Acceptable"}
        if isinstance(result, Raw):
            return status, result.text.encode(), kind
        return status, json.dumps(result).encode(), kind

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
            raise http_error(405, "HTTP 405 Method Not Allowed")
        raise http_error(404, "HTTP 404 Not Found")

    # --- Root, types, contexts

    @route("GET", "/")
    def root(self, request: Request) -> Any:
        return {}

    @route("GET", "/schemas/types")
    def schema_types(self, request: Request) -> Any:
        return [AVRO]

    @route("GET", "/contexts")
    def contexts(self, request: Request) -> Any:
        return page([DEFAULT_CONTEXT], request)

    # --- Subjects

    @route("GET", "/subjects")
    def subjects(self, request: Request) -> Any:
        prefix = request.query.get("subjectPrefix") or request.query.get("subject") or ""
        deleted_only = request.flag("deletedOnly", "deleted_only")
        names = self.store.read(lambda s: s.subject_names(request.flag("deleted"), deleted_only))
        return page([name for name in names if name.startswith(prefix)], request)

    @route("GET", "/subjects/{subject}/versions")
    def versions(self, request: Request) -> Any:
        subject = request.subject()
        deleted_only = request.flag("deletedOnly", "deleted_only")

        def numbers(state: RegistryState) -> list[int]:
            found = state.versions(subject, deleted=request.flag("deleted") or deleted_only)
            if not found:
                raise SubjectNotFound(subject)
            return [r.version for r in found if r.deleted or not deleted_only]

        return page(self.store.read(numbers), request)

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

    def _version(self, request: Request) -> SchemaRecord:
        subject = request.subject()
        number = parse_version(request.params["version"])
        return self.store.read(lambda s: s.lookup(subject, number, request.flag("deleted")))

    @route("POST", "/subjects/{subject}/versions")
    def register(self, request: Request) -> Any:
        subject = writable_subject(request.subject())
        body = request.json()
        schema_id, version = body.get("id"), body.get("version")
        registration = _registration(
            request,
            id=schema_id if isinstance(schema_id, int) and schema_id >= 0 else None,
            version=version if isinstance(version, int) and version > 0 else None,
        )
        record = self.store.register(subject, registration)
        return {"id": record.id, "version": record.version, **_schema_body(record.schema, AVRO)}

    @route("POST", "/subjects/{subject}")
    def lookup(self, request: Request) -> Any:
        subject = request.subject()
        registration = _registration(request)
        deleted = request.flag("deleted")

        def find(state: RegistryState) -> Any:
            if not state.versions(subject, deleted):
                raise SubjectNotFound(subject)
            normalize = registration.normalize or state.normalize(subject)
            wanted = valid_schema(
                registration.schema, normalize=normalize and not _importing(state, subject)
            )
            found = state.find(subject, wanted, deleted)
            if found is None:
                raise SchemaNotFound()
            return found.response()

        return self.store.read(find)

    @route("DELETE", "/subjects/{subject}")
    def delete_subject(self, request: Request) -> Any:
        return self.store.delete_subject(request.subject(), request.flag("permanent"))

    @route("DELETE", "/subjects/{subject}/versions/{version}")
    def delete_version(self, request: Request) -> Any:
        number = parse_version(request.params["version"])
        return self.store.delete_version(request.subject(), number, request.flag("permanent"))

    # --- Schemas

    @route("GET", "/schemas")
    def schemas(self, request: Request) -> Any:
        prefix = request.query.get("subjectPrefix") or ""
        deleted, latest_only = request.flag("deleted"), request.flag("latestOnly")

        def listing(state: RegistryState) -> list[dict[str, Any]]:
            found = []
            for name in sorted(state.subjects):
                if name.startswith(prefix):
                    versions = state.versions(name, deleted)
                    found += versions[-1:] if latest_only else versions
            return [record.response() for record in found]

        return page(self.store.read(listing), request)

    @route("GET", "/schemas/ids/{id}")
    def schema_by_id(self, request: Request) -> Any:
        schema_id = _schema_id(request)
        stored = self.store.read(lambda s: s.schema(schema_id))
        body = _schema_body(stored.schema, stored.schema_type)
        if request.flag("fetchMaxId"):
            body["maxId"] = self.store.read(lambda s: max(s.schemas))
        return body

    @route("GET", "/schemas/ids/{id}/schema")
    def raw_schema_by_id(self, request: Request) -> Any:
        schema_id = _schema_id(request)
        return Raw(self.store.read(lambda s: s.schema(schema_id)).schema)

    @route("GET", "/schemas/ids/{id}/versions")
    def schema_versions(self, request: Request) -> Any:
        schema_id = _schema_id(request)
        found = self.store.read(lambda s: s.usages(schema_id, request.flag("deleted")))
        return page([{"subject": r.subject, "version": r.version} for r in found], request)

    @route("GET", "/schemas/ids/{id}/subjects")
    def schema_subjects(self, request: Request) -> Any:
        schema_id = _schema_id(request)
        found = self.store.read(lambda s: s.usages(schema_id, request.flag("deleted")))
        return page(sorted({r.subject for r in found}), request)

    # --- Compatibility levels and normalisation (/config)

    @route("GET", "/config")
    def global_config(self, request: Request) -> Any:
        return self.store.read(lambda s: _config_body(s.configs.get(None)))

    @route("PUT", "/config")
    def set_global_config(self, request: Request) -> Any:
        return self._set_config(None, request)

    @route("DELETE", "/config")
    def delete_global_config(self, request: Request) -> Any:
        return _config_body(self.store.delete_config(None))

    @route("GET", "/config/{subject}")
    def subject_config(self, request: Request) -> Any:
        scope = request.scope()

        def config(state: RegistryState) -> dict[str, Any]:
            if scope in state.configs:
                return _config_body(state.configs[scope])
            if scope is None or request.flag("defaultToGlobal"):
                return _config_body(state.configs.get(None))
            raise SubjectConfigNotFound(scope)

        return self.store.read(config)

    @route("PUT", "/config/{subject}")
    def set_subject_config(self, request: Request) -> Any:
        scope = request.scope()
        return self._set_config(None if scope is None else writable_subject(scope), request)

    @route("DELETE", "/config/{subject}")
    def delete_subject_config(self, request: Request) -> Any:
        return _config_body(self.store.delete_config(request.scope()))

    def _set_config(self, subject: str | None, request: Request) -> Any:
        """Confluent merges the given settings into the existing ones; none at all is fine."""
        body = request.json()
        name = body.get("compatibility", body.get("compatibilityLevel"))
        level = None if name is None else valid_level(name)
        normalize = body.get("normalize")
        if normalize is not None and not isinstance(normalize, bool):
            raise InvalidCompatibilityLevel("Invalid value for normalize: expected true or false")
        merged = self.store.set_config(subject, level, normalize)
        answer: dict[str, Any] = {}
        if merged.normalize is not None:
            answer["normalize"] = merged.normalize
        if merged.level is not None:
            answer["compatibility"] = merged.level.value
        return answer

    # --- Modes (/mode)

    @route("GET", "/mode")
    def global_mode(self, request: Request) -> Any:
        return {"mode": self.store.read(lambda s: s.mode(None)).value}

    @route("PUT", "/mode")
    def set_global_mode(self, request: Request) -> Any:
        return self._set_mode(None, request)

    @route("DELETE", "/mode")
    def delete_global_mode(self, request: Request) -> Any:
        return {"mode": self.store.delete_mode(None).value}

    @route("GET", "/mode/{subject}")
    def subject_mode(self, request: Request) -> Any:
        scope = request.scope()

        def mode(state: RegistryState) -> str:
            if scope is None or scope in state.modes or request.flag("defaultToGlobal"):
                return state.mode(scope).value
            raise SubjectModeNotFound(scope)

        return {"mode": self.store.read(mode)}

    @route("PUT", "/mode/{subject}")
    def set_subject_mode(self, request: Request) -> Any:
        scope = request.scope()
        return self._set_mode(None if scope is None else writable_subject(scope), request)

    @route("DELETE", "/mode/{subject}")
    def delete_subject_mode(self, request: Request) -> Any:
        return {"mode": self.store.delete_mode(request.scope()).value}

    def _set_mode(self, subject: str | None, request: Request) -> Any:
        name = request.json().get("mode")
        try:
            mode = Mode(str(name).upper())
        except ValueError:
            raise InvalidMode() from None
        self.store.set_mode(subject, mode, request.flag("force"))
        return {"mode": mode.value}

    # --- Compatibility tests

    @route("POST", "/compatibility/subjects/{subject}/versions/{version}")
    def test_version(self, request: Request) -> Any:
        number = parse_version(request.params["version"])
        return self._test(request, number, against_all=False)

    @route("POST", "/compatibility/subjects/{subject}/versions")
    def test_all(self, request: Request) -> Any:
        return self._test(request, None, against_all=True)

    def _test(self, request: Request, version: int | None, against_all: bool) -> Any:
        """Confluent answers an invalid schema with 42201, or with verbose=true as a 200 whose
        one message says why."""
        verbose = request.flag("verbose")
        try:
            registration = _registration(request)
            problems = self.store.compatibility(
                request.subject(), registration, version, against_all
            )
        except InvalidSchemaError as exc:
            if not verbose:
                raise
            problems = [exc.message]
        except InvalidSchema as exc:
            if not verbose:
                raise InvalidSchemaError(str(exc)) from None
            problems = [str(exc)]
        body: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            body["messages"] = problems
        return body


def _importing(state: RegistryState, subject: str) -> bool:
    return state.mode(subject) is Mode.IMPORT


def _schema_id(request: Request) -> int:
    """An id from the path. Not a number is Jersey's plain 404, as in Confluent."""
    try:
        return int(request.params["id"])
    except ValueError:
        raise http_error(404, "HTTP 404 Not Found") from None


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, hands it to `Api.handle`, writes the answer. Keep-alive capable."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive answer would
    # wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: RegistryServer

    def _serve(self) -> None:
        url = urlsplit(self.path)
        if not self.server.authorized(self.headers.get("Authorization")):
            self._answer(401, json.dumps(UNAUTHORIZED).encode(), V1_JSON, challenge=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length, self.close_connection = 0, True  # the unread body would poison keep-alive
        body = self.rfile.read(length) if length > 0 else b""
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        accept = self.headers.get("Accept")
        status, payload, kind = self.server.api.handle(self.command, url.path, query, body, accept)
        self._answer(status, payload, kind)

    def _answer(self, status: int, payload: bytes, kind: str, challenge: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        if challenge:
            self.send_header("WWW-Authenticate", 'Basic realm="kafkalab schema registry"')
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

    def __init__(
        self, host: str, port: int, store: SchemaStore, user_info: str | None = None
    ) -> None:
        """`user_info` (`user:password`): every request must carry it as HTTP basic auth, as
        a managed registry asks (KAFKALAB_REGISTRY_AUTH); None: no authentication."""
        super().__init__((host, port), _Handler)
        self.api = Api(store)
        self._expected = (
            "Basic " + base64.b64encode(user_info.encode()).decode() if user_info else None
        )

    def authorized(self, header: str | None) -> bool:
        if self._expected is None:
            return True
        return header is not None and hmac.compare_digest(header.strip(), self._expected)
