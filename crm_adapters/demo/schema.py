"""The demo shop's tables (SQLAlchemy Core), on one SQLite file.

Money is stored as integer cents so that SQLite, which has no decimal type, never rounds a price.
Timestamps are stored in UTC and read back as timezone-aware values.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from core.storage.schema import UTCDateTime

__all__ = [
    "SEEDED_AT_KEY",
    "UTCDateTime",
    "customers",
    "from_cents",
    "help_articles",
    "metadata",
    "order_items",
    "orders",
    "products",
    "return_policy",
    "shop_meta",
    "to_cents",
]

SEEDED_AT_KEY = "seeded_at"
"""The ``shop_meta`` key holding when the data was seeded; its presence means "seeded"."""


def to_cents(amount: Decimal) -> int:
    """``Decimal("129.00")`` -> ``12900``; refuses fractions of a cent."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has fractions of a cent")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """``12900`` -> ``Decimal("129.00")`` (always two decimal places)."""
    return Decimal(cents).scaleb(-2)


metadata = MetaData()

shop_meta = Table(
    "shop_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(32)),
)

products = Table(
    "products",
    metadata,
    Column("sku", String(32), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False, unique=True),
    Column("price_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("brand", String(100)),
    Column("description", Text, nullable=False),
    Column("features", JSON, nullable=False),
    Column("stock", Integer),
    Column("restock_date", Date),
    Column("final_sale", Boolean, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("shipped_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Column("refunded", Boolean, nullable=False),
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("estimated_delivery", Date),
    Column("expected_ship_by", Date),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_number", ForeignKey("orders.number"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sku", String(32), nullable=False),
    # The name and price as sold: a later catalog change must not rewrite past orders.
    Column("name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
    Column("final_sale", Boolean, nullable=False),
)

return_policy = Table(
    "return_policy",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("window_days", Integer, nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("free_return_reasons", JSON, nullable=False),
    Column("return_fee_cents", Integer, nullable=False),
    Column("refund_time", Text, nullable=False),
    Column("exclusions", JSON, nullable=False),
    Column("currency", String(3), nullable=False),
)

help_articles = Table(
    "help_articles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("product_sku", ForeignKey("products.sku")),
    Column("keywords", JSON, nullable=False),
)
