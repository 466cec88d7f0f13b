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


def customers(settings: Settings, http: httpx.Client, plan: p.LoadPlan) -> list[Customer]:
    """Register and log in the plan's users: paying ones first, then those who cannot pay."""
    paying, broke = p.user_split(plan.users, plan.fail_rate)
    run = uuid.uuid4().hex[:8]
    wanted = [(i, True) for i in range(paying)] + [(paying + i, False) for i in range(broke)]
    with ThreadPoolExecutor(SETUP_WORKERS, thread_name_prefix="load-setup") as pool:
        return list(pool.map(lambda w: _customer(settings, http, run, *w), wanted))


def _customer(
    settings: Settings, http: httpx.Client, run: str, index: int, can_pay: bool
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
    registered = _call(http, "POST", url(settings, "user", "/users"), json=body)
    if registered.status_code != 201:
        raise LoadSetupFailed(
            f"registering a load user answered {registered.status_code}: {registered.text[:200]}"
        )
    login = _call(
        http, "POST", url(settings, "user", "/login"), json={"email": email, "password": password}
    )
    if login.status_code != 200:
        raise LoadSetupFailed(f"logging a load user in answered {login.status_code}")
    return Customer(registered.json()["user_id"], login.json()["token"], can_pay)


def top_up_stock(settings: Settings, http: httpx.Client, needed: dict[str, int]) -> dict[str, int]:
    """Make sure inventory holds `needed` units per SKU; restock the shortfall. Returns the
    units added per SKU. A platform whose inventory cannot restock and is short is an error
    (one sentence), not a run where most orders bounce with 409."""
    answer = _call(http, "GET", url(settings, "inventory", "/stock"))
    if answer.status_code != 200:
        raise LoadSetupFailed(f"GET /stock answered {answer.status_code}")
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
            json={"quantity": short},
        )
        if restock.status_code != 200:
            raise LoadSetupFailed(
                f"inventory has {available} × {sku} but the load needs {units}, and the restock "
                f"answered {restock.status_code}",
                hint="ask for fewer orders (--orders), or restart the platform for fresh stock",
            )
        added[sku] = short
    return added


@dataclass(frozen=True)
class Placed:
    """One POST /orders: 201 with an order id, or why not ("409 out of stock", "http 503",
    "ConnectionResetError"…)."""

    order_id: str | None
    refused: str | None
    seconds: float


REFUSALS = {409: "409 out of stock", 401: "401 token refused", 504: "504 stock check timed out"}


class OrderClient:
    """One worker's keep-alive connection to the order service, on the standard library.

    Why not httpx here: this is the hot loop of the driver, and on a 2-core machine every
    microsecond the driver spends is taken from the services it measures — http.client costs
    ~150 µs of CPU per request where httpx costs ~500 µs. A POST is never retried: after a
    failure the order may or may not exist, so it is counted as refused, never sent twice.
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
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self._conn.request("POST", "/orders", body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Placed(None, type(exc).__name__, 0.0)
        seconds = time.perf_counter() - started
        if response.will_close:
            self.close()
        if response.status == 201:
            try:
                return Placed(str(json.loads(data)["order_id"]), None, seconds)
            except (ValueError, KeyError, TypeError):
                return Placed(None, "201 without an order id", seconds)
        return Placed(None, REFUSALS.get(response.status, f"http {response.status}"), seconds)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _call(http: httpx.Client, method: str, address: str, **kwargs: object) -> httpx.Response:
    try:
        return http.request(method, address, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise LoadSetupFailed(
            f"{method} {address} failed: {exc}",
            hint="is the platform up? start it with `kafkalab up`",
        ) from exc
