"""`load.shop.OrderClient`: which failed POSTs are sent again, and which are counted refused."""

from __future__ import annotations

from typing import Any

import pytest

from kafkalab.load import shop
from kafkalab.settings import Settings


class _Answer:
    status = 201
    will_close = False

    def read(self) -> bytes:
        return b'{"order_id": "o-1"}'

    def getheader(self, _name: str) -> None:
        return None


class _Connection:
    """A keep-alive connection; the first one made was closed by the service while idle."""

    made: list[_Connection] = []
    fail_with: type[OSError] = BrokenPipeError

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.first = not _Connection.made
        self.sent = 0
        _Connection.made.append(self)

    def request(self, *_args: Any, **_kwargs: Any) -> None:
        if self.first:
            raise self.fail_with
        self.sent += 1

    def getresponse(self) -> _Answer:
        return _Answer()

    def close(self) -> None:
        pass


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> shop.OrderClient:
    _Connection.made = []
    monkeypatch.setattr(shop.http.client, "HTTPConnection", _Connection)
    return shop.OrderClient(Settings())


def test_a_write_into_a_closed_keep_alive_is_sent_again_on_a_new_connection(
    client: shop.OrderClient,
) -> None:
    placed = client.place(shop.Customer("u-1", "token", True), "SKU-1")
    assert (placed.order_id, placed.refused, placed.retries) == ("o-1", None, 1)
    assert [c.sent for c in _Connection.made] == [0, 1]


def test_a_reset_is_counted_refused_never_sent_twice(client: shop.OrderClient) -> None:
    _Connection.fail_with = ConnectionResetError  # the order may exist: no second POST
    try:
        placed = client.place(shop.Customer("u-1", "token", True), "SKU-1")
    finally:
        _Connection.fail_with = BrokenPipeError
    assert (placed.order_id, placed.refused, placed.retries) == (None, "ConnectionResetError", 0)
    assert len(_Connection.made) == 1
