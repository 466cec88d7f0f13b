"""Load the Avro schemas that ship inside the package (`kafkalab/events/schemas/*.avsc`)."""

from __future__ import annotations

from importlib import resources


def schema_text(name: str) -> str:
    """The .avsc text of record `name` (e.g. "SmokeEvent")."""
    return resources.files("kafkalab.events").joinpath("schemas", f"{name}.avsc").read_text()
