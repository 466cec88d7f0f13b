"""The product catalogue shared by the order and inventory services.

Order prices an order from it (the client sends only SKUs and quantities, never prices) and
inventory seeds its stock from it. Keeping both in one module means the two services cannot
disagree about which SKUs exist; in a real shop this would be a product service of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    """One sellable item: prices are integer cents so totals never suffer float rounding."""

    sku: str
    name: str
    unit_price_cents: int
    initial_stock: int


def _catalogue(*products: Product) -> dict[str, Product]:
    return {product.sku: product for product in products}


PRODUCTS: dict[str, Product] = _catalogue(
    Product("SKU-BOOK", "Kafka: The Definitive Guide", 4_999, 50),
    Product("SKU-MUG", "Event-driven coffee mug", 1_299, 100),
    Product("SKU-TSHIRT", "Exactly-once T-shirt", 2_499, 40),
    Product("SKU-STICKER", "Partition sticker pack", 399, 500),
    Product("SKU-HOODIE", "Consumer-group hoodie", 5_999, 20),
    Product("SKU-KEYBOARD", "Mechanical keyboard", 12_999, 10),
    Product("SKU-HEADSET", "Noise-cancelling headset", 19_999, 5),
    Product("SKU-LAPTOP", "Broker-grade laptop", 149_999, 2),
)
"""Every SKU the shop sells, by SKU. Stock is small on the expensive items so that lessons can
run an order out of stock (and a user out of balance) with a handful of requests."""
