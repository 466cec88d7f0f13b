"""The order the whole suite runs in: unit tests first (fast feedback), then the integration
tests that need only the session cluster, then those of each shared platform variant together,
in `pool.VARIANTS` order, so each variant is started once."""

from __future__ import annotations

import pytest

from tests.integration.pool import VARIANTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = list(VARIANTS)

    def rank(item: pytest.Item) -> int:
        if "tests/unit/" in item.nodeid:
            return -1
        names = getattr(item, "fixturenames", ())
        found = [order.index(name) for name in names if name in VARIANTS]
        return 1 + min(found) if found else 0

    items.sort(key=rank)  # stable: the order within a rank is pytest's own
