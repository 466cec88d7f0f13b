"""The services' HTTP layer: FastAPI on uvicorn, served from a daemon thread of the service.

A service lists its routes in one place (`Service.routes()`): each `Route` maps a method and a
path to a plain handler `Request -> Response`, plus the pydantic models that describe its body
and its answer for the OpenAPI page (`/docs`, `/openapi.json`). Handlers are blocking code (a
POST waits for Kafka's acknowledgement), so they run on worker threads while uvicorn's event
loop keeps accepting requests.

Why the handlers validate their own bodies instead of FastAPI: a bad request gets one sentence
`{"error": "..."}` with the status it always had (422, 409, …), the same answer the load
driver, the scenarios and the lessons read, rather than FastAPI's `{"detail": [...]}`. The
models still document every body on `/docs`. The Swagger UI page is served offline: its
JavaScript and CSS come from the `fastapi-offline` package, never from a CDN.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse
from starlette.responses import Response as StarletteResponse

log = logging.getLogger(__name__)

HANDLER_THREADS = 300
"""Handlers that may block at once: `kafkalab load --concurrency` goes up to 256, plus its setup
workers; each order request waits for inventory's answer on a thread of its own."""

KEEP_ALIVE_SECONDS = 75
"""How long an idle keep-alive connection stays open (uvicorn's default is 5 s)."""

DOCS_ASSETS = "/docs/assets"
BEARER = "bearerToken"


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Response:
    status: int = 200
    body: Any = field(default_factory=dict)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


RETRY_AFTER = 1
"""Seconds a 503 asks the client to wait (`Retry-After`) before it tries again."""


class HttpError(Exception):
    """Raise in a handler to answer `{"error": message}` with `status`. A `retry_after`
    (seconds) adds `Retry-After`: the request did nothing and may be sent again as it is."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class Unavailable(HttpError):
    """503 with `Retry-After`: Kafka did not take the write in time (a leader election that
    outlasted the wait, a cluster without quorum); nothing was stored, so a retry is safe."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(503, message, retry_after)


class ErrorBody(BaseModel):
    """Every refusal: one sentence saying what was wrong."""

    error: str


Handler = Callable[[Request], Response]
Refusal = Callable[[Request, HttpError], None]
"""Called for every 401/403 answer (the audit trail hooks in here)."""


@dataclass(frozen=True)
class Route:
    """One endpoint. Only the first three fields are needed; the rest fill in `/docs`."""

    method: str
    pattern: str  # "/orders/{order_id}"
    handler: Handler
    body: type[BaseModel] | None = None
    """Documents the JSON body (the handler still validates it)."""
    answer: type[BaseModel] | None = None
    """Documents the JSON of the success answer."""
    status: int = 200
    """The success status, as documented."""
    errors: Mapping[int, str] = field(default_factory=dict)
    """Other statuses the handler answers with `{"error": ...}`, and when."""
    summary: str | None = None
    """One line on `/docs`; default: the first line of the handler's docstring."""
    bearer: bool = False
    """Documents `Authorization: Bearer <token>` (the token `POST /login` hands out)."""

    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.pattern)


class ServiceHttpServer:
    """The app of `routes` on uvicorn (one worker, httptools and uvloop where installed).

    The socket is bound here, so a taken port fails at construction as it always did, and
    requests queue in the listen backlog until `start()` serves them.
    """

    def __init__(
        self,
        host: str,
        port: int,
        routes: list[Route],
        on_refusal: Refusal | None = None,
        title: str = "kafkalab",
        description: str = "",
    ) -> None:
        self.routes = routes
        self.on_refusal = on_refusal
        self.app = build_app(routes, self._dispatch, title, description)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(128)  # socketserver's 5 reset bursts of new clients
        except OSError:
            self.socket.close()
            raise
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        # uvicorn's start and stop lines repeat what the service logs itself; errors still show.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                loop="auto",  # uvloop when installed
                http="auto",  # httptools when installed
                ws="none",
                proxy_headers=False,  # no proxy in front: skip the middleware
                lifespan="off",
                log_config=None,  # the service's JSON logging stays as it is
                access_log=False,
                backlog=128,
                timeout_graceful_shutdown=2,
                # uvicorn closes a keep-alive connection idle for 5 s: a slow steady load
                # (`kafkalab soak`, 5 orders/s over 32 connections, each idle ~6 s) then
                # wrote every other order into a closed socket. 75 s, as nginx does.
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        self._limiter: anyio.CapacityLimiter | None = None
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve until `shutdown()`; blocks (run it on a thread of its own)."""
        self.server.run(sockets=[self.socket])

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Stop serving; waits (a few seconds at most) for the server's thread to end."""
        self.server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def server_close(self) -> None:
        self.socket.close()

    async def _dispatch(self, route: Route, raw: StarletteRequest) -> StarletteResponse:
        """Read the body on the event loop, run the handler on a worker thread."""
        if self._limiter is None:  # created in the loop that uses it
            self._limiter = anyio.CapacityLimiter(HANDLER_THREADS)
        request = Request(
            raw.method,
            raw.url.path,
            dict(raw.path_params),
            dict(raw.query_params),
            dict(raw.headers),
        )
        data = await raw.body()
        response = await anyio.to_thread.run_sync(
            self._answer, route, request, data, limiter=self._limiter
        )
        return _encode(response)

    def _answer(self, route: Route, request: Request, data: bytes) -> Response:
        """The handler's answer, or the error body for what it raised."""
        try:
            if data:
                try:
                    request.body = json.loads(data)
                except ValueError as exc:
                    raise HttpError(400, "the body is not valid JSON") from exc
            return route.handler(request)
        except HttpError as exc:
            if exc.status in (401, 403) and self.on_refusal is not None:
                try:
                    self.on_refusal(request, exc)
                except Exception:  # noqa: BLE001 - auditing must never break the answer
                    log.exception("refusal hook failed")
            headers = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
            return Response(exc.status, {"error": exc.message}, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the server
            log.exception("handler failed for %s %s", request.method, request.path)
            return Response(500, {"error": f"{type(exc).__name__}: {exc}"})


class Health(BaseModel, extra="allow"):
    """`GET /health`: 200 once the service is serving, 503 while it starts or stops. Each
    service adds fields of its own (partitions, circuit state, …)."""

    status: str
    service: str
    replica: int = 0


def platform_routes(health: Handler, metrics: Handler) -> list[Route]:
    """`/health` and `/metrics`, as every service (and the supervisor's exporter) serves them."""
    return [
        Route(
            "GET",
            "/health",
            health,
            answer=Health,
            summary="Is this replica serving? 200 when it is, 503 (same body) before and after",
        ),
        Route(
            "GET",
            "/metrics",
            metrics,
            summary="Prometheus metrics, in the text exposition format",
        ),
    ]


Dispatch = Callable[[Route, StarletteRequest], Any]


def build_app(
    routes: list[Route], dispatch: Dispatch, title: str, description: str = ""
) -> FastAPI:
    """The FastAPI app: `routes`, the offline `/docs` page, and kafkalab's error bodies for
    paths no route serves."""
    app = FastAPI(
        title=title,
        description=description,
        docs_url=None,  # our own /docs below, on local assets
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    for route in routes:
        app.add_api_route(
            route.pattern,
            _endpoint(route, dispatch),
            methods=[route.method],
            summary=route.summary or _first_line(route.handler.__doc__),
            description=inspect.cleandoc(route.handler.__doc__ or ""),
            response_model=route.answer,
            status_code=route.status,
            responses={
                status: {"model": ErrorBody, "description": when}
                for status, when in route.errors.items()
            },
            openapi_extra=_extra_spec(route),
        )
    mount_offline_docs(app, title)

    async def not_found(request: StarletteRequest, exc: Exception) -> StarletteResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        if status in (404, 405):  # the old router answered both with 404
            body = {"error": f"no route for {request.method} {request.url.path}"}
            return _encode(Response(404, body))
        return _encode(Response(status, {"error": str(getattr(exc, "detail", exc))}))

    app.add_exception_handler(StarletteHTTPException, not_found)
    app.openapi = lambda: _openapi(app, routes)  # type: ignore[method-assign]
    return app


def _endpoint(route: Route, dispatch: Dispatch) -> Callable[..., Any]:
    """An endpoint whose signature names the route's path parameters (so `/docs` lists them);
    it hands the raw request to `dispatch`, which returns the answer as it is."""

    async def endpoint(request: StarletteRequest, **_: str) -> StarletteResponse:
        result: StarletteResponse = await dispatch(route, request)
        return result

    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("request", kw, annotation=StarletteRequest)]
    params += [inspect.Parameter(name, kw, annotation=str) for name in route.path_params()]
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = getattr(route.handler, "__name__", "handler").lstrip("_")
    return endpoint


def _extra_spec(route: Route) -> dict[str, Any] | None:
    """The body and the bearer token, which the endpoint does not declare to FastAPI."""
    extra: dict[str, Any] = {}
    if route.body is not None:
        ref = {"$ref": f"#/components/schemas/{route.body.__name__}"}
        content = {"application/json": {"schema": ref}}
        extra["requestBody"] = {"required": True, "content": content}
    if route.bearer:
        extra["security"] = [{BEARER: []}]
    return extra or None


def _openapi(app: FastAPI, routes: list[Route]) -> dict[str, Any]:
    """FastAPI's schema plus the body models (FastAPI lists only models it validates)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if any(route.bearer for route in routes):
            schema["components"]["securitySchemes"] = {
                BEARER: {"type": "http", "scheme": "bearer", "description": "POST /login's token"}
            }
        # FastAPI documents its own 422 `{"detail": [...]}` for any route with a parameter;
        # ours never answers it (a path parameter is any string).
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422", {})
                if "HTTPValidationError" in json.dumps(answer):
                    del operation["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for route in routes:
            if route.body is not None:
                found = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[route.body.__name__] = found
        app.openapi_schema = schema
    return app.openapi_schema


def _encode(response: Response) -> StarletteResponse:
    if isinstance(response.body, bytes | str):
        data = response.body.encode() if isinstance(response.body, str) else response.body
    else:
        data = json.dumps(response.body).encode()
    return StarletteResponse(
        data, response.status, headers=response.headers or None, media_type=response.content_type
    )


def _first_line(doc: str | None) -> str | None:
    return inspect.cleandoc(doc).splitlines()[0] if doc else None


def mount_offline_docs(app: FastAPI, title: str, path: str = "/docs") -> None:
    """Swagger UI for `app`'s OpenAPI at `path`, every asset served by the app itself (the
    services' `/docs`, the console's `/api/docs`): the page works offline and calls out to
    nobody."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_swagger_assets()), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            # No badge from the public validator: the page must not call out.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)


def _swagger_assets() -> str:
    """Swagger UI 5's bundle, CSS and favicon, as the fastapi-offline package ships them."""
    import fastapi_offline

    return str(Path(fastapi_offline.__file__).parent / "static")
