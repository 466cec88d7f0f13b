"""Plain-HTTP calls to kafkalab's own endpoints on this machine, through one shared client.

Why: `httpx.get()` builds a new `httpx.Client` for every call, and every new client loads the
system's CA bundle into a fresh SSL context: ~40 ms of CPU (measured) for a request to
`http://127.0.0.1:…/health` that never uses TLS. The platform polls health and scrapes
/metrics many times a second while it starts and while the console and the alert engine
watch it, so that cost was most of what `kafkalab up`, the supervisor and the console spent
on HTTP (a py-spy profile of the test suite's workers put most of their busy samples in
`ssl.create_default_context`). One client per
process pays it once and keeps its connections alive.

For `http://` URLs only: an HTTPS endpoint with a private CA (a secure registry) is called
with a client configured for that CA where it is needed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """This process's shared client (httpx's connection pool is safe to share by threads)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                import httpx  # here: ~0.3 s that commands making no HTTP call skip

                _client = httpx.Client()
    return _client


def get(url: str, timeout: float = 5.0, **kwargs: Any) -> httpx.Response:
    return client().get(url, timeout=timeout, **kwargs)


def post(url: str, timeout: float = 5.0, **kwargs: Any) -> httpx.Response:
    return client().post(url, timeout=timeout, **kwargs)
