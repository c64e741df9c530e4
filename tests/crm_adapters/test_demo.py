"""The demo shop on a real SQLite file: the seeded contract, lookups, restarts, reset, failures."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import CRMUnavailable
from core.ports import ShopBackend
from core.shop import Order, OrderStatus
from crm_adapters.demo import DEMO_CUSTOMERS, DemoShop, demo_orders

SEEDED = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
TODAY = SEEDED.date()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "demo_shop.sqlite3"


@pytest.fixture
async def shop(db_path: Path) -> AsyncIterator[DemoShop]:
    demo = DemoShop(db_path, clock=Clock(SEEDED))
    await demo.start()
    yield demo
    await demo.stop()


async def order(shop: DemoShop, number: str) -> Order:
    found = await shop.get_order(number)
    assert found is not None, f"order {number} missing"
    return found


def days_ago(days: int) -> datetime:
    return SEEDED - timedelta(days=days)


def execute_sql(path: Path, statement: str) -> None:
    """Edit the database behind the adapter's back, as a shop owner with a SQLite tool might."""
    with sqlite3.connect(path) as conn:
        conn.execute(statement)


async def test_start_creates_the_directory_and_the_database_file(shop: DemoShop) -> None:
    assert shop.path.is_file()
    assert shop.seeded_at == SEEDED
    assert isinstance(shop, ShopBackend)


async def test_customers_are_seeded_as_the_contract_says(shop: DemoShop) -> None:
    expected = {
        "1001": ("Alice Martin", "alice@example.com", "+15550001111"),
        "1003": ("Bob Chen", "bob@example.com", "+15550002222"),
        "1005": ("Carol Davies", "carol@example.com", "+447700900123"),
    }
    for number, (name, email, phone) in expected.items():
        customer = (await order(shop, number)).customer
        assert (customer.name, customer.email, customer.phone) == (name, email, phone)
    assert {c.email for c in DEMO_CUSTOMERS} == {e for _, e, _ in expected.values()}


@pytest.mark.parametrize(
    ("number", "email", "status", "item", "quantity"),
    [
        ("1001", "alice@example.com", OrderStatus.DELIVERED, "Aurora Wireless Headphones", 1),
        ("1002", "alice@example.com", OrderStatus.SHIPPED, "Orbit Bluetooth Speaker", 1),
        ("1003", "bob@example.com", OrderStatus.PROCESSING, "Zephyr Laptop Stand", 2),
        ("1004", "bob@example.com", OrderStatus.CANCELLED, "Terra Hiking Backpack", 1),
        ("1005", "carol@example.com", OrderStatus.DELIVERED, "Pulse Fitness Tracker", 1),
        ("12345", "carol@example.com", OrderStatus.PROCESSING, "Aurora Wireless Headphones", 1),
    ],
)
async def test_each_order_has_its_customer_status_and_items(
    shop: DemoShop, number: str, email: str, status: OrderStatus, item: str, quantity: int
) -> None:
    seeded = await order(shop, number)
    assert seeded.number == number
    assert seeded.customer.email == email
    assert seeded.status is status
    assert [(i.name, i.quantity) for i in seeded.items] == [(item, quantity)]
    assert seeded.placed_at.tzinfo is not None


async def test_delivered_orders_were_delivered_10_and_45_days_before_seeding(
    shop: DemoShop,
) -> None:
    assert (await order(shop, "1001")).delivered_at == days_ago(10)
    assert (await order(shop, "1005")).delivered_at == days_ago(45)


async def test_order_1002_shipped_yesterday_by_ups_arriving_in_two_days(shop: DemoShop) -> None:
    shipped = await order(shop, "1002")
    assert shipped.shipped_at == days_ago(1)
    assert shipped.carrier == "UPS"
    assert shipped.tracking_number == "1Z999AA10123456784"
    assert shipped.estimated_delivery == TODAY + timedelta(days=2)
    assert shipped.delivered_at is None


@pytest.mark.parametrize("number", ["1003", "12345"])
async def test_processing_orders_are_expected_to_ship_within_two_days(
    shop: DemoShop, number: str
) -> None:
    processing = await order(shop, number)
    assert processing.expected_ship_by == TODAY + timedelta(days=2)
    assert processing.shipped_at is None
    assert processing.tracking_number is None


async def test_order_1004_was_cancelled_5_days_ago_and_refunded(shop: DemoShop) -> None:
    cancelled = await order(shop, "1004")
    assert cancelled.cancelled_at == days_ago(5)
    assert cancelled.refunded is True
    assert cancelled.shipped_at is None


async def test_order_dates_are_in_a_plausible_sequence(shop: DemoShop) -> None:
    for number in ("1001", "1002", "1003", "1004", "1005", "12345"):
        seeded = await order(shop, number)
        assert seeded.placed_at < SEEDED
        later = [d for d in (seeded.shipped_at, seeded.cancelled_at) if d is not None]
        assert all(seeded.placed_at < d for d in later), number
        if seeded.delivered_at is not None:
            assert seeded.shipped_at is not None
            assert seeded.shipped_at < seeded.delivered_at


async def test_exported_demo_orders_describe_what_is_stored(shop: DemoShop) -> None:
    assert shop.seeded_at is not None
    for expected in demo_orders(shop.seeded_at):
        assert await shop.get_order(expected.number) == expected


@pytest.mark.parametrize("reference", ["1002", "#1002", " #1002 ", "# 1002"])
async def test_get_order_accepts_a_bare_or_hashed_reference(shop: DemoShop, reference: str) -> None:
    assert (await order(shop, reference)).number == "1002"


@pytest.mark.parametrize("reference", ["9999", "#", "", "1001; DROP TABLE orders"])
async def test_unknown_orders_are_none(shop: DemoShop, reference: str) -> None:
    assert await shop.get_order(reference) is None
    assert await shop.get_order("1001") is not None


async def test_an_order_changed_by_another_writer_is_seen_at_once(
    shop: DemoShop, db_path: Path
) -> None:
    assert (await order(shop, "1002")).status is OrderStatus.SHIPPED  # read and remembered
    execute_sql(db_path, "UPDATE orders SET status = 'delivered' WHERE number = '1002'")
    assert (await order(shop, "1002")).status is OrderStatus.DELIVERED
    execute_sql(db_path, "UPDATE orders SET status = 'shipped' WHERE number = '1002'")
    assert (await order(shop, "1002")).status is OrderStatus.SHIPPED  # same size, new time
    execute_sql(db_path, "UPDATE orders SET carrier = 'DHL' WHERE number = '1002'")
    assert (await order(shop, "1002")).carrier == "DHL"


async def test_the_catalog_has_the_fixed_products(shop: DemoShop) -> None:
    catalog = {p.name: p for p in await shop.list_products()}
    expected = {
        "Aurora Wireless Headphones": ("129.00", ["Bluetooth 5.3", "30 h battery", "noise"]),
        "Nimbus Smart Watch": ("199.00", ["GPS", "Heart-rate", "5 ATM"]),
        "Orbit Bluetooth Speaker": ("59.00", ["12 h battery", "IPX7"]),
        "Zephyr Laptop Stand": ("39.00", ["Aluminium", "10–17"]),
        "Pulse Fitness Tracker": ("49.00", ["Sleep tracking", "7-day battery"]),
        "Terra Hiking Backpack": ("89.00", ["35 L", "Waterproof"]),
    }
    for name, (price, features) in expected.items():
        product = catalog[name]
        assert product.price == Decimal(price)
        assert str(product.price) == price
        described = " ".join(product.features)
        assert all(feature.lower() in described.lower() for feature in features), name


async def test_stock_levels_and_the_nimbus_restock_date(shop: DemoShop) -> None:
    catalog = {p.name: p for p in await shop.list_products()}
    nimbus = catalog["Nimbus Smart Watch"]
    assert not nimbus.in_stock
    assert nimbus.restock_date == TODAY + timedelta(days=14)
    assert catalog["Pulse Fitness Tracker"].stock == 3
    for name in ("Aurora Wireless Headphones", "Orbit Bluetooth Speaker", "Zephyr Laptop Stand"):
        assert catalog[name].in_stock and catalog[name].restock_date is None
    assert catalog["Terra Hiking Backpack"].in_stock


async def test_the_catalog_is_big_varied_and_unambiguous(shop: DemoShop) -> None:
    products = await shop.list_products()
    assert len(products) >= 12
    assert len({p.sku for p in products}) == len(products)
    first_words = [p.name.split()[0].lower() for p in products]
    assert len(set(first_words)) == len(products)
    assert any(p.final_sale for p in products)
    assert all(p.price > 0 and p.currency == "USD" for p in products)


async def test_get_product_by_sku(shop: DemoShop) -> None:
    aurora = await shop.get_product("AUR-HP-01")
    assert aurora is not None and aurora.name == "Aurora Wireless Headphones"
    assert await shop.get_product("aur-hp-01") == aurora
    assert await shop.get_product("NOPE-00") is None


async def test_the_return_policy(shop: DemoShop) -> None:
    policy = await shop.get_return_policy()
    assert policy.window_days == 30
    assert policy.return_fee == Decimal("5.95")
    assert any("unused" in c for c in policy.conditions)
    assert any("original packaging" in c for c in policy.conditions)
    assert set(policy.free_return_reasons) == {"defective", "the wrong item"}
    assert policy.refund_time == "5–7 business days"
    assert any("final-sale" in e for e in policy.exclusions)


async def test_help_articles_have_real_steps(shop: DemoShop) -> None:
    articles = await shop.list_articles()
    skus = {p.sku for p in await shop.list_products()}
    assert len(articles) >= 8
    assert len({a.id for a in articles}) == len(articles)
    for article in articles:
        assert 4 <= len(article.steps) <= 7, article.id
        assert article.keywords and article.title and article.summary
        assert article.product_sku is None or article.product_sku in skus


@pytest.mark.parametrize(
    ("words", "sku"),
    [
        (("pair", "aurora"), "AUR-HP-01"),
        (("nimbus", "charging"), "NIM-SW-01"),
        (("reset", "orbit"), "ORB-SP-01"),
        (("sync", "pulse"), "PUL-FT-01"),
        (("reset", "password"), None),
    ],
)
async def test_the_required_troubleshooting_topics_exist(
    shop: DemoShop, words: tuple[str, ...], sku: str | None
) -> None:
    titles = {a.title.lower(): a for a in await shop.list_articles()}
    matches = [a for t, a in titles.items() if all(w in t for w in words)]
    assert len(matches) == 1, words
    assert matches[0].product_sku == sku


async def test_data_survives_a_restart_without_reseeding(shop: DemoShop, db_path: Path) -> None:
    await shop.stop()
    execute_sql(db_path, "UPDATE orders SET carrier = 'FedEx' WHERE number = '1002'")
    later = DemoShop(db_path, clock=Clock(SEEDED + timedelta(days=30)))
    await later.start()
    try:
        restarted = await order(later, "1002")
        assert restarted.carrier == "FedEx"
        assert restarted.shipped_at == days_ago(1)
        assert later.seeded_at == SEEDED
        nimbus = await later.get_product("NIM-SW-01")
        assert nimbus is not None and nimbus.restock_date == TODAY + timedelta(days=14)
    finally:
        await later.stop()


async def test_reset_reseeds_relative_to_the_new_time(db_path: Path) -> None:
    clock = Clock(SEEDED)
    demo = DemoShop(db_path, clock=clock)
    await demo.start()
    try:
        execute_sql(db_path, "DELETE FROM order_items WHERE order_number = '1004'")
        execute_sql(db_path, "DELETE FROM orders WHERE number = '1004'")
        clock.now = SEEDED + timedelta(days=30)
        await demo.reset()
        assert demo.seeded_at == clock.now
        assert (await order(demo, "1004")).cancelled_at == clock.now - timedelta(days=5)
        nimbus = await demo.get_product("NIM-SW-01")
        assert nimbus is not None
        assert nimbus.restock_date == (clock.now + timedelta(days=14)).date()
    finally:
        await demo.stop()


async def test_reset_works_on_a_shop_that_was_never_started(db_path: Path) -> None:
    first = DemoShop(db_path, clock=Clock(SEEDED))
    await first.start()
    await first.stop()
    demo = DemoShop(db_path, clock=Clock(SEEDED + timedelta(days=3)))
    await demo.reset()
    try:
        assert (await order(demo, "1002")).shipped_at == SEEDED + timedelta(days=2)
    finally:
        await demo.stop()


async def test_a_file_that_is_not_a_database_raises_crm_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "demo_shop.sqlite3"
    path.write_bytes(b"these bytes are not a SQLite database " * 200)
    with pytest.raises(CRMUnavailable) as caught:
        await DemoShop(path).start()
    assert caught.value.__cause__ is not None


async def test_an_unusable_directory_raises_crm_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(CRMUnavailable):
        await DemoShop(blocker / "demo_shop.sqlite3").start()


async def test_a_directory_in_place_of_the_database_raises_crm_unavailable(
    tmp_path: Path,
) -> None:
    (tmp_path / "demo_shop.sqlite3").mkdir()
    with pytest.raises(CRMUnavailable):
        await DemoShop(tmp_path / "demo_shop.sqlite3").start()


async def test_a_database_that_breaks_while_running_raises_crm_unavailable(
    shop: DemoShop, db_path: Path
) -> None:
    execute_sql(db_path, "DROP TABLE order_items")
    with pytest.raises(CRMUnavailable):
        await shop.get_order("1001")


async def test_a_shop_that_is_not_started_is_unavailable(db_path: Path) -> None:
    demo = DemoShop(db_path)
    with pytest.raises(CRMUnavailable):
        await demo.get_order("1001")
    with pytest.raises(CRMUnavailable):
        await demo.list_products()


async def test_a_naive_clock_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await DemoShop(db_path, clock=lambda: datetime(2025, 1, 1)).start()


def test_seeding_date_arithmetic_matches_the_fixed_clock() -> None:
    processing = {o.number: o for o in demo_orders(SEEDED)}["12345"]
    assert processing.expected_ship_by == date(2025, 3, 12)
