"""What a shop backend knows: customers, orders, products, the return policy and help articles.

CRM adapters (``crm_adapters/``) produce these values; the engine only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Customer",
    "HelpArticle",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Product",
    "ReturnPolicy",
]


class OrderStatus(StrEnum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class OrderItem:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    final_sale: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """One order. Dates that do not apply to the order's status are ``None``.

    ``number`` is the bare reference without ``#`` (``"1001"``).
    """

    number: str
    customer: Customer
    status: OrderStatus
    placed_at: datetime
    items: tuple[OrderItem, ...]
    currency: str = "USD"
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded: bool = False
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery: date | None = None
    expected_ship_by: date | None = None


@dataclass(frozen=True, slots=True)
class Product:
    """A catalog entry. ``stock`` is ``None`` when the backend does not track quantities."""

    sku: str
    name: str
    price: Decimal
    currency: str = "USD"
    brand: str | None = None
    description: str = ""
    features: tuple[str, ...] = ()
    stock: int | None = None
    restock_date: date | None = None
    final_sale: bool = False

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """The shop's return rules; ``summary`` is the text shown for general questions."""

    window_days: int
    conditions: tuple[str, ...]
    free_return_reasons: tuple[str, ...]
    return_fee: Decimal
    refund_time: str
    exclusions: tuple[str, ...]
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class HelpArticle:
    """A troubleshooting article; ``steps`` are shown to the user in order."""

    id: str
    title: str
    summary: str
    steps: tuple[str, ...]
    product_sku: str | None = None
    keywords: tuple[str, ...] = ()
