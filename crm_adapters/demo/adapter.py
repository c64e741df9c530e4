"""``DemoShop``: the built-in shop backend, a real SQLite database seeded on first start."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, RowMapping, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.errors import CRMUnavailable
from core.shop import (
    Customer,
    HelpArticle,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ReturnPolicy,
)
from core.types import utcnow
from crm_adapters.demo import schema
from crm_adapters.demo.schema import customers, help_articles, order_items, orders, products
from crm_adapters.demo.seed import write_demo_data

__all__ = ["DemoShop"]


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """The one place where database and file-system failures become ``CRMUnavailable``."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise CRMUnavailable(f"demo shop: cannot {action}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Catalog:
    """The small, read-on-every-message part of the shop, cached after start."""

    products: tuple[Product, ...]
    policy: ReturnPolicy
    articles: tuple[HelpArticle, ...]
    by_sku: dict[str, Product] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_sku", {p.sku: p for p in self.products})


class DemoShop:
    """The demo shop on the SQLite file at ``path``, created and seeded on the first ``start``.

    Seeded dates are relative to ``clock()`` at seeding time and stored as absolute timestamps,
    so they stay consistent across restarts. Products, the return policy and help articles are
    cached in memory after ``start``. Orders are read again whenever the database files change
    (any writer, any process: their size or modification time moves), so an order edited in the
    shop is seen at once, while an unchanged shop costs a ``stat`` instead of a query per lookup.
    Every database or file-system failure surfaces as ``CRMUnavailable``.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._path = path
        self._clock = clock
        self._engine: AsyncEngine | None = None
        self._catalog: _Catalog | None = None
        self._seeded_at: datetime | None = None
        # Orders as last read, and the database files' stamp they were read at (see get_order).
        self._orders: dict[str, Order] = {}
        self._orders_stamp: tuple[tuple[int, int], ...] | None = None

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def seeded_at(self) -> datetime | None:
        """When the data was seeded (UTC), or ``None`` before ``start``."""
        return self._seeded_at

    async def start(self) -> None:
        """Open the database, creating the directory, schema and demo data when it is new."""
        if self._engine is not None:
            return
        await self._open(reseed=False)

    async def stop(self) -> None:
        """Close the database connections; safe to call twice."""
        engine, self._engine = self._engine, None
        self._orders, self._orders_stamp = {}, None
        if engine is not None:
            with _translated("close the database"):
                await engine.dispose()

    async def reset(self) -> None:
        """Drop all demo data and seed it again relative to ``clock()`` now.

        Works on a started or a stopped shop; the shop is started afterwards either way.
        """
        if self._engine is None:
            await self._open(reseed=True)
            return
        with _translated("reset the demo shop"):
            await self._prepare(self._engine, reseed=True)

    async def get_order(self, number: str) -> Order | None:
        """The order with this number ("1001"; a leading "#" is ignored), or ``None``."""
        bare = number.strip().lstrip("#").strip()
        if not bare:
            return None
        engine = self._started_engine()
        with _translated("read an order"):
            stamp = _file_stamp(self._path)
            if stamp != self._orders_stamp:
                async with engine.connect() as conn:
                    self._orders = await _read_orders(conn)
                self._orders_stamp = stamp
        return self._orders.get(bare)

    async def list_products(self) -> Sequence[Product]:
        """Every product, in catalog order."""
        return self._cached().products

    async def get_product(self, sku: str) -> Product | None:
        """The product with this SKU (case-insensitive), or ``None``."""
        return self._cached().by_sku.get(sku.strip().upper())

    async def get_return_policy(self) -> ReturnPolicy:
        """The shop's return policy."""
        return self._cached().policy

    async def list_articles(self) -> Sequence[HelpArticle]:
        """Every help article."""
        return self._cached().articles

    async def _open(self, *, reseed: bool) -> None:
        with _translated("create the data directory"):
            await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
        engine = _create_engine(self._path)
        try:
            with _translated("open the demo shop database"):
                await self._prepare(engine, reseed=reseed)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine

    async def _prepare(self, engine: AsyncEngine, *, reseed: bool) -> None:
        """Create the schema, seed if asked or if never seeded, and load the catalog cache."""
        async with engine.begin() as conn:
            if reseed:
                await conn.run_sync(schema.metadata.drop_all)
            await conn.run_sync(schema.metadata.create_all)
            seeded_at = await _read_seeded_at(conn)
            if seeded_at is None:
                seeded_at = self._now()
                await _clear(conn)  # leftovers of a hand-edited database would clash
                await write_demo_data(conn, seeded_at)
        async with engine.connect() as conn:
            self._catalog = await _read_catalog(conn)
        self._orders_stamp = None  # read the orders afresh too
        self._seeded_at = seeded_at

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("DemoShop clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def _started_engine(self) -> AsyncEngine:
        if self._engine is None:
            raise CRMUnavailable("demo shop is not started")
        return self._engine

    def _cached(self) -> _Catalog:
        if self._engine is None or self._catalog is None:
            raise CRMUnavailable("demo shop is not started")
        return self._catalog


def _create_engine(path: Path) -> AsyncEngine:
    engine = create_async_engine(URL.create("sqlite+aiosqlite", database=str(path)))

    @event.listens_for(engine.sync_engine, "connect")
    def _enforce_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        # SQLite ignores REFERENCES clauses unless asked, per connection.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


async def _read_seeded_at(conn: AsyncConnection) -> datetime | None:
    query = select(schema.shop_meta.c.value).where(schema.shop_meta.c.key == schema.SEEDED_AT_KEY)
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else datetime.fromisoformat(value)


async def _clear(conn: AsyncConnection) -> None:
    for table in reversed(schema.metadata.sorted_tables):
        await conn.execute(table.delete())


def _file_stamp(path: Path) -> tuple[tuple[int, int], ...]:
    """Size and modification time of the database and its WAL/journal files (0s if absent)."""
    stamps = []
    for suffix in ("", "-wal", "-journal"):
        try:
            info = os.stat(f"{path}{suffix}")
        except FileNotFoundError:
            stamps.append((0, 0))
        else:
            stamps.append((info.st_size, info.st_mtime_ns))
    return tuple(stamps)


async def _read_orders(conn: AsyncConnection) -> dict[str, Order]:
    """Every order with its customer and items (the demo shop has a handful)."""
    head_query = select(
        orders,
        customers.c.name.label("customer_name"),
        customers.c.email.label("customer_email"),
        customers.c.phone.label("customer_phone"),
    ).join(customers, orders.c.customer_id == customers.c.id)
    heads = (await conn.execute(head_query)).mappings().all()
    items_query = select(order_items).order_by(order_items.c.order_number, order_items.c.position)
    items: dict[str, list[RowMapping]] = {}
    for row in (await conn.execute(items_query)).mappings().all():
        items.setdefault(row["order_number"], []).append(row)
    return {head["number"]: _order(head, items.get(head["number"], [])) for head in heads}


def _order(head: RowMapping, items: Sequence[RowMapping]) -> Order:
    customer = Customer(
        id=head["customer_id"],
        name=head["customer_name"],
        email=head["customer_email"],
        phone=head["customer_phone"],
    )
    return Order(
        number=head["number"],
        customer=customer,
        status=OrderStatus(head["status"]),
        placed_at=head["placed_at"],
        items=tuple(_order_item(row) for row in items),
        currency=head["currency"],
        shipped_at=head["shipped_at"],
        delivered_at=head["delivered_at"],
        cancelled_at=head["cancelled_at"],
        refunded=head["refunded"],
        carrier=head["carrier"],
        tracking_number=head["tracking_number"],
        estimated_delivery=head["estimated_delivery"],
        expected_ship_by=head["expected_ship_by"],
    )


def _order_item(row: RowMapping) -> OrderItem:
    return OrderItem(
        sku=row["sku"],
        name=row["name"],
        quantity=row["quantity"],
        unit_price=schema.from_cents(row["unit_price_cents"]),
        final_sale=row["final_sale"],
    )


async def _read_catalog(conn: AsyncConnection) -> _Catalog:
    product_rows = await conn.execute(select(products).order_by(products.c.position))
    article_rows = await conn.execute(select(help_articles).order_by(help_articles.c.position))
    policy_row = (await conn.execute(select(schema.return_policy))).mappings().one()
    return _Catalog(
        products=tuple(_product(row) for row in product_rows.mappings()),
        policy=_policy(policy_row),
        articles=tuple(_article(row) for row in article_rows.mappings()),
    )


def _product(row: RowMapping) -> Product:
    return Product(
        sku=row["sku"],
        name=row["name"],
        price=schema.from_cents(row["price_cents"]),
        currency=row["currency"],
        brand=row["brand"],
        description=row["description"],
        features=tuple(row["features"]),
        stock=row["stock"],
        restock_date=row["restock_date"],
        final_sale=row["final_sale"],
    )


def _policy(row: RowMapping) -> ReturnPolicy:
    return ReturnPolicy(
        window_days=row["window_days"],
        conditions=tuple(row["conditions"]),
        free_return_reasons=tuple(row["free_return_reasons"]),
        return_fee=schema.from_cents(row["return_fee_cents"]),
        refund_time=row["refund_time"],
        exclusions=tuple(row["exclusions"]),
        currency=row["currency"],
    )


def _article(row: RowMapping) -> HelpArticle:
    return HelpArticle(
        id=row["id"],
        title=row["title"],
        summary=row["summary"],
        steps=tuple(row["steps"]),
        product_sku=row["product_sku"],
        keywords=tuple(row["keywords"]),
    )
