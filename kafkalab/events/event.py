"""One decoded platform record, and the headers that tie records into a story.

Apart from serde.py so that both decoders (serde's and fastdecode's) can build on it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HEADER_TYPE = "event_type"
HEADER_TRACE = "trace_id"
HEADER_CAUSE = "causation_id"
HEADER_SERVICE = "service"


@dataclass
class Event:
    """One decoded record: what a service handles and what observe/ reads back."""

    topic: str
    partition: int
    offset: int
    key: str | None
    type: str
    value: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    timestamp_ms: int = 0

    @property
    def event_id(self) -> str:
        return str(self.value.get("event_id", ""))

    @property
    def trace_id(self) -> str:
        return self.headers.get(HEADER_TRACE, "")

    @property
    def causation_id(self) -> str:
        return self.headers.get(HEADER_CAUSE, "")

    @property
    def service(self) -> str:
        return self.headers.get(HEADER_SERVICE, "")


class UndecodableEvent(Exception):
    """A record that is not a registered Avro event (poison): it belongs in a dead-letter topic."""
