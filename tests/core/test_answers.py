"""Grounded answers: every fact comes from the order, product or policy given."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from config.settings import CONFIG_DIR
from core.answers import describe_order, describe_policy, describe_product, describe_return
from core.responses import load_responses
from core.shop import Customer, Order, OrderItem, OrderStatus, Product, ReturnPolicy

RESPONSES = load_responses(CONFIG_DIR / "responses.yaml")
TODAY = date(2026, 11, 29)
BOB = Customer(id="c2", name="Bob", email="bob@example.com")
STAND = OrderItem(sku="ZEP", name="Zephyr Laptop Stand", quantity=2, unit_price=Decimal("39"))
POLICY = ReturnPolicy(
    window_days=30,
    conditions=("unused",),
    free_return_reasons=("defective", "the wrong item"),
    return_fee=Decimal("5.95"),
    refund_time="5–7 business days",
    exclusions=("final-sale items",),
)


def _order(**changes: object) -> Order:
    base: dict[str, object] = {
        "number": "1003",
        "customer": BOB,
        "status": OrderStatus.PROCESSING,
        "placed_at": datetime(2026, 11, 28, tzinfo=UTC),
        "items": (STAND,),
        "expected_ship_by": date(2026, 12, 1),
    }
    return Order(**{**base, **changes})  # type: ignore[arg-type]


def test_processing_order_ships_within_the_days_left() -> None:
    text = describe_order(_order(), TODAY, RESPONSES)
    assert "#1003" in text and "ship within 2 days" in text and "2 × Zephyr Laptop Stand" in text


def test_an_overdue_order_is_not_promised_for_today() -> None:
    late = describe_order(_order(expected_ship_by=date(2026, 11, 25)), TODAY, RESPONSES)
    assert "today" not in late and "November 25" in late and "late" in late
    shipped = _order(
        status=OrderStatus.SHIPPED,
        shipped_at=datetime(2026, 11, 18, tzinfo=UTC),
        carrier="UPS",
        tracking_number="1Z1",
        estimated_delivery=date(2026, 11, 20),
    )
    text = describe_order(shipped, TODAY, RESPONSES)
    assert "arrive today" not in text and "running late" in text and "November 20" in text


def test_product_availability_follows_the_stock() -> None:
    watch = Product(sku="N", name="Nimbus Smart Watch", price=Decimal("199"), stock=0,
                    restock_date=date(2026, 12, 13), features=("GPS",))  # fmt: skip
    text = describe_product(watch, RESPONSES)
    assert "$199.00" in text and "out of stock" in text and "December 13, 2026" in text
    assert "Only 3 left" in describe_product(
        Product(sku="P", name="Pulse", price=Decimal("49"), stock=3), RESPONSES
    )


def test_policy_reads_as_a_sentence() -> None:
    text = describe_policy(POLICY, RESPONSES)
    assert "defective or the wrong item, the return label is free" in text
    assert "$5.95" in text and "5–7 business days" in text


def test_return_window_is_counted_from_delivery() -> None:
    delivered = _order(
        status=OrderStatus.DELIVERED, delivered_at=datetime(2026, 11, 19, tzinfo=UTC)
    )
    assert "20 days left" in describe_return(delivered, POLICY, TODAY, RESPONSES)
    old = _order(status=OrderStatus.DELIVERED, delivered_at=datetime(2026, 10, 15, tzinfo=UTC))
    assert "can no longer be returned" in describe_return(old, POLICY, TODAY, RESPONSES)
    final = _order(
        status=OrderStatus.DELIVERED,
        delivered_at=datetime(2026, 11, 25, tzinfo=UTC),
        items=(OrderItem(sku="G", name="Gift Card", quantity=1, unit_price=Decimal("50"),
                         final_sale=True),),
    )  # fmt: skip
    assert "final-sale" in describe_return(final, POLICY, TODAY, RESPONSES)
