"""The order service's own copy of the compacted `stock` topic, for `stock_check = "table"`.

Why a copy instead of asking inventory: the request-reply stock check (lesson 13) puts two
produce-and-fetch hops and inventory's answer inside every `POST /orders`. Measured with
`scripts/bench_pipeline.py` on 2 cores, that round trip was about 30 % of the pipeline's CPU
per order. Inventory already publishes every level change as a StockLevel keyed by SKU, so
the order service can read those into a dictionary (Kafka Streams would call it a
GlobalKTable) and answer "in stock?" locally.

What it gives up: the answer is as fresh as the last StockLevel read, a few milliseconds
behind inventory. A refusal is judged again once the view has read `stock` to its end as of the
request (`OrderService._read_stock_to_now`), so a restock that inventory already answered is
never refused. An acceptance on a stale level is safe because the check reserves nothing in either mode: inventory
still reserves on OrderCreated, all items or none, and an order that lost the race for the
last unit gets OutOfStock from inventory and ends REJECTED, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafkalab.events.serde import Event


class StockView:
    """Available units per SKU, as the `stock` table last said. Written by the feed thread,
    read by HTTP threads: one dict assignment per record, so a reader never sees half of one."""

    def __init__(self) -> None:
        self._available: dict[str, int] = {}

    def apply(self, event: Event) -> None:
        if event.type == "StockLevel":
            self._available[str(event.value["sku"])] = int(event.value["available"])

    def missing(self, items: Iterable[Mapping[str, Any]]) -> list[str]:
        """SKUs (sorted) that are unknown or short for `items` ({sku, quantity} records);
        empty means all available. The same rule as inventory's answer to a stock check."""
        wanted: dict[str, int] = {}
        for item in items:
            sku = str(item["sku"])
            wanted[sku] = wanted.get(sku, 0) + int(item["quantity"])
        return sorted(sku for sku, qty in wanted.items() if self._available.get(sku, -1) < qty)

    def __len__(self) -> int:
        return len(self._available)
