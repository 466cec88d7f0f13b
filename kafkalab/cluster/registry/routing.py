"""The plumbing under the registry's endpoints: requests, the route table, content types.

Kept apart from `server` so that file reads as the list of Confluent's endpoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafkalab.cluster.registry.errors import ApiError, InvalidSubject

V1_JSON = "application/vnd.schemaregistry.v1+json"
DEFAULT_JSON = "application/vnd.schemaregistry+json"
JSON = "application/json"
DEFAULT_CONTEXT = ":.:"


class BadRequest(ApiError):
    """The body is not a JSON object (Confluent answers 400 with error code 400)."""

    status, code = 400, 400


def http_error(status: int, message: str) -> ApiError:
    """Jersey's own answers (unknown path, wrong method): the status doubles as error code."""
    error = ApiError(message)
    error.status, error.code = status, status
    return error


def content_type(accept: str | None) -> str | None:
    """The media type to answer with, chosen as Jersey chooses for Confluent's resources: the
    client's preference (q) first, then Confluent's own order (v1, the generic type, plain
    JSON). So `Accept: application/json` gets `application/json`, no preference gets v1, and
    nothing acceptable is None (406)."""
    if not accept or not accept.strip():
        return V1_JSON
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in ("", "*") or media.startswith("*/"):
            media = "*/*"
        ranges.append((media, quality))
    best: tuple[float, int, str] | None = None
    for weight, offered in enumerate((JSON, DEFAULT_JSON, V1_JSON)):
        main = offered.split("/")[0]
        for pattern in (offered, f"{main}/*", "*/*"):
            qualities = [q for media, q in ranges if media == pattern]
            if qualities:
                candidate = (max(qualities), weight, offered)
                if candidate[0] > 0 and (best is None or candidate > best):
                    best = candidate
                break
    return None if best is None else best[2]


@dataclass(frozen=True)
class Request:
    """One request, with path parameters already URL-decoded (subjects may contain `/`)."""

    params: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def flag(self, *names: str) -> bool:
        """A boolean query flag under any of `names` (Confluent's camelCase or the snake_case
        some clients send). The Python client spells values `True`/`False`: any case works."""
        return any(self.query.get(name, "").strip().lower() == "true" for name in names)

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

    def subject(self) -> str:
        """The subject of the path, with an explicit default context (`:.:name`) dropped."""
        raw = self.params["subject"]
        return raw[len(DEFAULT_CONTEXT) :] if raw.startswith(DEFAULT_CONTEXT) else raw

    def scope(self) -> str | None:
        """For /config and /mode: the subject, or None for the default context itself."""
        return self.subject() or None


def writable_subject(subject: str) -> str:
    """Confluent's check of a subject about to be written (42208), plus kafkalab's refusal of
    contexts: only the default context exists here."""
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in subject) or subject in (
        "__GLOBAL",
        "__EMPTY",
    ):
        raise InvalidSubject(subject)
    if subject.startswith(":."):
        raise InvalidSubject(subject, " Schema contexts are not supported by kafkalab's registry.")
    return subject


@dataclass(frozen=True)
class Raw:
    """A body sent as-is (a schema's own JSON) rather than dumped as JSON again."""

    text: str


Handler = Callable[[Any, Request], Any]


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


def page(items: list[Any], request: Request) -> list[Any]:
    """Confluent's offset/limit paging (the Python client always sends offset=0&limit=-1)."""
    offset = max(0, request.number("offset", 0))
    limit = request.number("limit", -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]
