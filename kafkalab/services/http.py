"""A tiny JSON HTTP server for services: /health, /metrics, and the service's own routes.

stdlib only (ThreadingHTTPServer in a daemon thread): a service's HTTP side is a handful of
endpoints, and a framework would cost start-up time on every one of six processes.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


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


class HttpError(Exception):
    """Raise in a handler to answer `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Request], Response]
Refusal = Callable[[Request, HttpError], None]
"""Called for every 401/403 answer (the audit trail hooks in here)."""


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # "/orders/{order_id}"
    handler: Handler

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "$"
        found = re.match(regex, path)
        return found.groupdict() if found else None


class ServiceHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog; socketserver's 5 resets bursts of new clients

    def __init__(
        self, host: str, port: int, routes: list[Route], on_refusal: Refusal | None = None
    ) -> None:
        self.routes = routes
        self.on_refusal = on_refusal
        super().__init__((host, port), _RequestHandler)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread


class _RequestHandler(BaseHTTPRequestHandler):
    server: ServiceHttpServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("http " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        request = Request(method, url.path, {}, {}, {k.lower(): v for k, v in self.headers.items()})
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise HttpError(400, "the body is not valid JSON") from exc
            for route in self.server.routes:
                params = route.match(method, url.path)
                if params is not None:
                    request.params = params
                    request.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                    request.body = body
                    response = route.handler(request)
                    break
            else:
                raise HttpError(404, f"no route for {method} {url.path}")
        except HttpError as exc:
            response = Response(exc.status, {"error": exc.message})
            if exc.status in (401, 403) and self.server.on_refusal is not None:
                try:
                    self.server.on_refusal(request, exc)
                except Exception:  # noqa: BLE001 - auditing must never break the answer
                    log.exception("refusal hook failed")
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the server
            log.exception("handler failed for %s %s", method, url.path)
            response = Response(500, {"error": f"{type(exc).__name__}: {exc}"})
        self._send(response)

    def _send(self, response: Response) -> None:
        if isinstance(response.body, bytes | str):
            data = response.body.encode() if isinstance(response.body, str) else response.body
        else:
            data = json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
