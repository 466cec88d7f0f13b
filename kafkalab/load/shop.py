"""The driver's side of the services' HTTP APIs: accounts, stock top-up, and placing one order.

Everything goes through the public endpoints a client would use — nothing is written to Kafka
directly — so a load run exercises exactly the path a scenario does, only many times over.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from kafkalab.catalogue.services import service_port
from kafkalab.errors import KafkalabError
from kafkalab.load import plan as p
from kafkalab.settings import Settings

SETUP_WORKERS = 4
"""Registrations and logins cost a scrypt hash each on the user service: 4 at a time keep both
cores busy without queueing dozens of 16 MiB hashes."""


class LoadSetupFailed(KafkalabError):
    hint = "see `kafkalab ps` and `kafkalab logs SERVICE` for the service that answered"


@dataclass(frozen=True)
class Customer:
    user_id: str
    token: str
    can_pay: bool


def url(settings: Settings, service: str, path: str) -> str:
    return f"http://{settings.host}:{service_port(settings, service)}{path}"


def customers(
    settings: Settings, http: httpx.Client, plan: p.LoadPlan, retried: list[int] | None = None
) -> list[Customer]:
    """Register and log in the plan's users: paying ones first, then those who cannot pay.
    Requests retried across a leader election append their retries to `retried`."""
    paying, broke = p.user_split(plan.users, plan.fail_rate)
    run = uuid.uuid4().hex[:8]
    wanted = [(i, True) for i in range(paying)] + [(paying + i, False) for i in range(broke)]
    with ThreadPoolExecutor(SETUP_WORKERS, thread_name_prefix="load-setup") as pool:
        return list(pool.map(lambda w: _customer(settings, http, run, w[0], w[1], retried), wanted))


def _customer(
    settings: Settings,
    http: httpx.Client,
    run: str,
    index: int,
    can_pay: bool,
    retried: list[int] | None = None,
) -> Customer:
    email = f"load.{run}.{index}@example.com"
    password = f"load-password-{run}"
    body = {
        "email": email,
        "name": f"Load user {index}",
        "password": password,
        "phone": f"+44 7700 9{index % 100000:05d}",
        "balance_cents": p.PAYING_BALANCE_CENTS if can_pay else p.BROKE_BALANCE_CENTS,
    }
    registered = _call(http, "POST", url(settings, "user", "/users"), retried, json=body)
    # A 409 after a retry: an earlier attempt went through after all (its answer was lost).
    retried_into_itself = registered.status_code == 409 and registered.extensions.get("retried")
    if registered.status_code != 201 and not retried_into_itself:
        raise LoadSetupFailed(
            f"registering a load user answered {_why(registered)}",
        )
    login = _call(
        http,
        "POST",
        url(settings, "user", "/login"),
        retried,
        json={"email": email, "password": password},
    )
    if login.status_code != 200:
        raise LoadSetupFailed(f"logging a load user in answered {_why(login)}")
    return Customer(login.json()["user_id"], login.json()["token"], can_pay)


def top_up_stock(
    settings: Settings,
    http: httpx.Client,
    needed: dict[str, int],
    retried: list[int] | None = None,
) -> dict[str, int]:
    """Make sure inventory holds `needed` units per SKU; restock the shortfall. Returns the
    units added per SKU. A platform whose inventory cannot restock and is short is an error
    (one sentence), not a run where most orders bounce with 409."""
    answer = _call(http, "GET", url(settings, "inventory", "/stock"), retried)
    if answer.status_code != 200:
        raise LoadSetupFailed(f"GET /stock answered {_why(answer)}")
    levels = answer.json()["stock"]
    added: dict[str, int] = {}
    for sku, units in needed.items():
        available = int(levels.get(sku, {}).get("available", 0))
        short = units - available
        if short <= 0:
            continue
        restock = _call(
            http,
            "POST",
            url(settings, "inventory", f"/stock/{sku}/restock"),
            retried,
            json={"quantity": short},
        )
        if restock.status_code != 200:
            raise LoadSetupFailed(
                f"inventory has {available} × {sku} but the load needs {units}, and the restock "
                f"answered {_why(restock)}",
                hint="ask for fewer orders (--orders), or restart the platform for fresh stock",
            )
        added[sku] = short
    return added


@dataclass(frozen=True)
class Placed:
    """One POST /orders: 201 with an order id, or why not ("409 out of stock", "503 Kafka did
    not acknowledge the order; try again", "ConnectionResetError"…), after `retries` retries
    the service asked for (Retry-After) or a refused connection allowed."""

    order_id: str | None
    refused: str | None
    seconds: float
    retries: int = 0


REFUSALS = {409: "409 out of stock", 401: "401 token refused", 504: "504 stock check timed out"}
RETRY_BUDGET = 60.0
"""Seconds a request may spend being retried: a leader election after a broker dies takes
~10 s (broker.session.timeout.ms, 9 s, plus the election), a supervised restart a few."""
MAX_RETRY_WAIT = 5.0


class OrderClient:
    """One worker's keep-alive connection to the order service, on the standard library.

    Why not httpx here: this is the hot loop of the driver, and on a 2-core machine every
    microsecond the driver spends is taken from the services it measures — http.client costs
    ~150 µs of CPU per request where httpx costs ~500 µs.

    A POST is retried only when it is known to have done nothing: an answer with `Retry-After`
    (the service stored nothing and says when to come back), a refused connection or a write
    into a connection the service had closed (nothing was sent). After any other failure the order may or may not exist, so it is counted as
    refused, never sent twice.
    """

    def __init__(self, settings: Settings) -> None:
        self.host = settings.host
        self.port = service_port(settings, "order")
        self._conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the connection now, before the clock starts: 32 workers connecting at once
        would overflow the service's accept backlog and turn into connection resets."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self._conn.connect()
            except OSError as exc:
                self._conn = None
                raise LoadSetupFailed(
                    f"could not connect to the order service on {self.host}:{self.port}: {exc}",
                    hint="is the platform up? start it with `kafkalab up`",
                ) from exc

    def place(self, customer: Customer, sku: str) -> Placed:
        """POST /orders, retried within RETRY_BUDGET while the answer says it did nothing."""
        started = time.perf_counter()
        retries = 0
        while True:
            placed, wait = self._place_once(customer, sku)
            spent = time.perf_counter() - started
            if wait is None or spent + wait > RETRY_BUDGET:
                return Placed(placed.order_id, placed.refused, spent, retries)
            retries += 1
            time.sleep(wait)

    def _place_once(self, customer: Customer, sku: str) -> tuple[Placed, float | None]:
        """One attempt, and how long to wait before the next (None: do not retry)."""
        body = json.dumps(
            {"items": [{"sku": sku, "quantity": 1}], "card_number": p.CARD_NUMBER}
        ).encode()
        headers = {
            "Authorization": f"Bearer {customer.token}",
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            self._conn.request("POST", "/orders", body=body, headers=headers)
        except ConnectionRefusedError:
            self.close()  # nothing was sent: the service is restarting
            return Placed(None, "ConnectionRefusedError", 0.0), 1.0
        except BrokenPipeError:
            # The service had closed this keep-alive connection (idle, or restarted): the
            # request went out in one write that failed, so nothing reached it. Reconnect.
            self.close()
            return Placed(None, "BrokenPipeError", 0.0), 0.1
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Placed(None, type(exc).__name__, 0.0), None
        try:
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Placed(None, type(exc).__name__, 0.0), None
        seconds = time.perf_counter() - started
        if response.will_close:
            self.close()
        if response.status == 201:
            try:
                return Placed(str(json.loads(data)["order_id"]), None, seconds), None
            except (ValueError, KeyError, TypeError):
                return Placed(None, "201 without an order id", seconds), None
        why = REFUSALS.get(response.status) or f"{response.status} {_error_of(data)}"
        return Placed(None, why, seconds), retry_after(response.getheader("Retry-After"))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


TIMEOUT = 90.0
"""Seconds the driver waits for one answer: a POST /orders may wait for two acknowledgements
(settings.publish_timeout each) and, with stock_check request-reply, the stock check's reply."""


def retry_after(header: str | None) -> float | None:
    """Seconds to wait before retrying, from a `Retry-After` header (None: do not retry).
    Only the delay-seconds form: the services send nothing else."""
    if header is None:
        return None
    try:
        return min(max(float(header), 0.1), MAX_RETRY_WAIT)
    except ValueError:
        return None


def _error_of(data: bytes) -> str:
    """The service's one-sentence `error`, else the start of the body."""
    try:
        return str(json.loads(data)["error"])
    except (ValueError, KeyError, TypeError):
        return data[:80].decode(errors="replace") or "(no body)"


def _why(response: httpx.Response) -> str:
    return f"{response.status_code} {_error_of(response.content)}"


def _call(
    http: httpx.Client,
    method: str,
    address: str,
    retried: list[int] | None = None,
    **kwargs: object,
) -> httpx.Response:
    """One set-up request, retried within RETRY_BUDGET while it is known to have done nothing:
    a refused connection, or an answer with `Retry-After` (a leader election under way).
    The answer of a retried request says so in `extensions["retried"]`, and its retries are
    appended to `retried`."""
    started = time.monotonic()
    retries = 0
    while True:
        wait: float | None
        try:
            response = http.request(method, address, **kwargs)  # type: ignore[arg-type]
            wait = retry_after(response.headers.get("Retry-After"))
        except httpx.ConnectError as exc:
            response, wait = None, 1.0
            error: httpx.HTTPError = exc
        except httpx.HTTPError as exc:
            raise LoadSetupFailed(
                f"{method} {address} failed: {exc or type(exc).__name__}",
                hint="is the platform up? start it with `kafkalab up`",
            ) from exc
        if wait is None or time.monotonic() - started + wait > RETRY_BUDGET:
            if response is None:
                raise LoadSetupFailed(
                    f"{method} {address} failed for {RETRY_BUDGET:.0f} s: {error}",
                    hint="is the platform up? start it with `kafkalab up`",
                ) from error
            response.extensions["retried"] = retries
            if retries and retried is not None:
                retried.append(retries)
            return response
        retries += 1
        time.sleep(wait)
