"""The toxiproxy server the tests drive: the binary scripts/bootstrap built, or a clear skip.

Where Go is present, bootstrap can build toxiproxy, so a missing binary is a failure there
(run `scripts/bootstrap`); only without Go is it a skip, with the reason."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kafkalab.chaos import toxiproxy
from kafkalab.settings import Settings


def require(settings: Settings) -> Path:
    binary = toxiproxy.find_binary(settings)
    if binary is not None:
        return binary
    if shutil.which("go") or Path("/usr/local/go/bin/go").is_file():
        pytest.fail(
            f"toxiproxy is not built, though Go is here: run scripts/bootstrap "
            f"(it builds {toxiproxy.MODULE}@{toxiproxy.VERSION})"
        )
    pytest.skip("toxiproxy is not installed and there is no Go to build it (scripts/bootstrap)")


@contextmanager
def running(settings: Settings) -> Iterator[toxiproxy.Client]:
    """A toxiproxy server of the test's own (its data dir, its API port), stopped after."""
    require(settings)
    client = toxiproxy.start(settings)
    try:
        yield client
    finally:
        client.close()
        toxiproxy.stop(settings)
