"""The demo shop's customers and orders, and the writer that puts the whole demo into SQL.

Order dates are relative to the seeding time and stored as absolute timestamps, so that a
conversation a week later still sees "delivered 10 days ago" as of the day the shop was seeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from core.shop import Customer, HelpArticle, Order, OrderItem, OrderStatus, Product, ReturnPolicy
from crm_adapters.demo import schema
from crm_adapters.demo.articles import DEMO_ARTICLES
from crm_adapters.demo.catalog import (
    AURORA_SKU,
    DEMO_RETURN_POLICY,
    ORBIT_SKU,
    PULSE_SKU,
    TERRA_SKU,
    ZEPHYR_SKU,
    demo_products,
)

__all__ = [
    "ALICE",
    "BOB",
    "CAROL",
    "DEMO_CUSTOMERS",
    "DEMO_ORDER_NUMBERS",
    "demo_orders",
    "write_demo_data",
]

ALICE = Customer(
    id="cus-alice", name="Alice Martin", email="alice@example.com", phone="+15550001111"
)
BOB = Customer(id="cus-bob", name="Bob Chen", email="bob@example.com", phone="+15550002222")
CAROL = Customer(
    id="cus-carol", name="Carol Davies", email="carol@example.com", phone="+447700900123"
)
DEMO_CUSTOMERS: tuple[Customer, ...] = (ALICE, BOB, CAROL)

DEMO_ORDER_NUMBERS: tuple[str, ...] = ("1001", "1002", "1003", "1004", "1005", "12345")


def _items(products: dict[str, Product], *lines: tuple[str, int]) -> tuple[OrderItem, ...]:
    """Order lines sold at today's catalog name, price and final-sale flag."""
    return tuple(
        OrderItem(
            sku=sku,
            name=products[sku].name,
            quantity=quantity,
            unit_price=products[sku].price,
            final_sale=products[sku].final_sale,
        )
        for sku, quantity in lines
    )


def demo_orders(seeded_at: datetime) -> tuple[Order, ...]:
    """The six demo orders as seeded at ``seeded_at`` (timezone-aware)."""

    def ago(days: int) -> datetime:
        return seeded_at - timedelta(days=days)

    def in_days(days: int) -> date:
        return (seeded_at + timedelta(days=days)).date()

    catalog = {product.sku: product for product in demo_products(seeded_at)}
    return (
        Order(
            number="1001",
            customer=ALICE,
            status=OrderStatus.DELIVERED,
            placed_at=ago(14),
            items=_items(catalog, (AURORA_SKU, 1)),
            shipped_at=ago(12),
            delivered_at=ago(10),
            carrier="UPS",
            tracking_number="1Z999AA10123456795",
        ),
        Order(
            number="1002",
            customer=ALICE,
            status=OrderStatus.SHIPPED,
            placed_at=ago(3),
            items=_items(catalog, (ORBIT_SKU, 1)),
            shipped_at=ago(1),
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            estimated_delivery=in_days(2),
        ),
        Order(
            number="1003",
            customer=BOB,
            status=OrderStatus.PROCESSING,
            placed_at=ago(1),
            items=_items(catalog, (ZEPHYR_SKU, 2)),
            expected_ship_by=in_days(2),
        ),
        Order(
            number="1004",
            customer=BOB,
            status=OrderStatus.CANCELLED,
            placed_at=ago(7),
            items=_items(catalog, (TERRA_SKU, 1)),
            cancelled_at=ago(5),
            refunded=True,
        ),
        Order(
            number="1005",
            customer=CAROL,
            status=OrderStatus.DELIVERED,
            placed_at=ago(50),
            items=_items(catalog, (PULSE_SKU, 1)),
            shipped_at=ago(48),
            delivered_at=ago(45),
            carrier="USPS",
            tracking_number="9400111899223100123456",
        ),
        Order(
            number="12345",
            customer=CAROL,
            status=OrderStatus.PROCESSING,
            placed_at=seeded_at - timedelta(hours=3),
            items=_items(catalog, (AURORA_SKU, 1)),
            expected_ship_by=in_days(2),
        ),
    )


async def write_demo_data(conn: AsyncConnection, seeded_at: datetime) -> None:
    """Insert the whole demo shop as of ``seeded_at`` into empty tables, in the caller's
    transaction (so a failure leaves no half-seeded shop)."""
    orders = demo_orders(seeded_at)
    await _insert(conn, schema.customers, [_customer_row(c) for c in DEMO_CUSTOMERS])
    await _insert(
        conn, schema.products, [_product_row(i, p) for i, p in enumerate(demo_products(seeded_at))]
    )
    await _insert(conn, schema.orders, [_order_row(o) for o in orders])
    await _insert(conn, schema.order_items, [row for o in orders for row in _item_rows(o)])
    await _insert(conn, schema.return_policy, [_policy_row(DEMO_RETURN_POLICY)])
    await _insert(
        conn, schema.help_articles, [_article_row(i, a) for i, a in enumerate(DEMO_ARTICLES)]
    )
    await _insert(
        conn, schema.shop_meta, [{"key": schema.SEEDED_AT_KEY, "value": seeded_at.isoformat()}]
    )


async def _insert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    await conn.execute(table.insert(), list(rows))


def _customer_row(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
    }


def _product_row(position: int, product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "position": position,
        "name": product.name,
        "price_cents": schema.to_cents(product.price),
        "currency": product.currency,
        "brand": product.brand,
        "description": product.description,
        "features": list(product.features),
        "stock": product.stock,
        "restock_date": product.restock_date,
        "final_sale": product.final_sale,
    }


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "customer_id": order.customer.id,
        "status": order.status.value,
        "placed_at": order.placed_at,
        "currency": order.currency,
        "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at,
        "cancelled_at": order.cancelled_at,
        "refunded": order.refunded,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "estimated_delivery": order.estimated_delivery,
        "expected_ship_by": order.expected_ship_by,
    }


def _item_rows(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "order_number": order.number,
            "position": position,
            "sku": item.sku,
            "name": item.name,
            "quantity": item.quantity,
            "unit_price_cents": schema.to_cents(item.unit_price),
            "final_sale": item.final_sale,
        }
        for position, item in enumerate(order.items)
    ]


def _policy_row(policy: ReturnPolicy) -> dict[str, Any]:
    return {
        "id": 1,
        "window_days": policy.window_days,
        "conditions": list(policy.conditions),
        "free_return_reasons": list(policy.free_return_reasons),
        "return_fee_cents": schema.to_cents(policy.return_fee),
        "refund_time": policy.refund_time,
        "exclusions": list(policy.exclusions),
        "currency": policy.currency,
    }


def _article_row(position: int, article: HelpArticle) -> dict[str, Any]:
    return {
        "id": article.id,
        "position": position,
        "title": article.title,
        "summary": article.summary,
        "steps": list(article.steps),
        "product_sku": article.product_sku,
        "keywords": list(article.keywords),
    }
