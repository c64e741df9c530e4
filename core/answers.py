"""Grounded answers: each function turns facts read from the shop into a reply text.

Nothing here invents a fact: every value placed in a template comes from the ``Order``,
``Product``, ``ReturnPolicy`` or ``HelpArticle`` given, or is computed from them and today's date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from core.responses import Responses
from core.shop import HelpArticle, Order, OrderStatus, Product, ReturnPolicy

__all__ = [
    "describe_article",
    "describe_order",
    "describe_order_for_staff",
    "describe_policy",
    "describe_product",
    "describe_return",
    "format_date",
    "format_money",
    "list_products",
]

LOW_STOCK = 5
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount: Decimal, currency: str = "USD") -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency)
    value = f"{amount:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def format_date(day: date) -> str:
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def _join(words: Sequence[str], conjunction: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _items(order: Order) -> str:
    return _join([f"{item.quantity} × {item.name}" for item in order.items])


def _within(days: int, due: date | None = None) -> str:
    if days < 0 and due is not None:
        return f"as soon as possible: it was due to ship on {format_date(due)} and is running late"
    if days <= 0:
        return "today"
    return "within 1 day" if days == 1 else f"within {days} days"


def _arrival(eta: date | None, today: date) -> str:
    if eta is None:
        return "soon"
    days = (eta - today).days
    if days < 0:
        return f"soon (it was expected on {format_date(eta)}, so it is running late)"
    if days == 0:
        return "today"
    if days == 1:
        return f"tomorrow ({format_date(eta)})"
    return f"in {days} days ({format_date(eta)})"


def _refund_note(order: Order) -> str:
    return " and refunded to your original payment method" if order.refunded else ""


def describe_order(order: Order, today: date, responses: Responses) -> str:
    """Status, dates, tracking and items of a verified customer's order."""
    common = {"order_number": order.number, "items": _items(order)}
    if order.status is OrderStatus.SHIPPED:
        return responses.render(
            "order_shipped",
            shipped_date=format_date(order.shipped_at.date()) if order.shipped_at else "recently",
            carrier=order.carrier or "our carrier",
            tracking_number=order.tracking_number or "not available yet",
            arrival=_arrival(order.estimated_delivery, today),
            **common,
        )
    if order.status is OrderStatus.DELIVERED and order.delivered_at is not None:
        return responses.render(
            "order_delivered", delivered_date=format_date(order.delivered_at.date()), **common
        )
    if order.status is OrderStatus.CANCELLED and order.cancelled_at is not None:
        return responses.render(
            "order_cancelled",
            cancelled_date=format_date(order.cancelled_at.date()),
            refund_note=_refund_note(order),
            **common,
        )
    ship_by = order.expected_ship_by
    days = (ship_by - today).days if ship_by else 2
    return responses.render("order_processing", ship_window=_within(days, ship_by), **common)


def _staff_status(order: Order, today: date) -> str:
    """The order's status with its date, as the shop's staff need it."""
    if order.status is OrderStatus.SHIPPED:
        shipped = format_date(order.shipped_at.date()) if order.shipped_at else "recently"
        return f"shipped on {shipped}, arriving {_arrival(order.estimated_delivery, today)}"
    if order.status is OrderStatus.DELIVERED and order.delivered_at is not None:
        return f"delivered on {format_date(order.delivered_at.date())}"
    if order.status is OrderStatus.CANCELLED and order.cancelled_at is not None:
        refunded = ", refunded" if order.refunded else ", not refunded"
        return f"cancelled on {format_date(order.cancelled_at.date())}{refunded}"
    if order.status is OrderStatus.PROCESSING:
        ship_by = order.expected_ship_by
        days = (ship_by - today).days if ship_by else 2
        return f"processing, to ship {_within(days, ship_by)}"
    return order.status.value


def describe_order_for_staff(order: Order, today: date, responses: Responses) -> str:
    """Everything about an order for the shop's staff: customer, status, items, tracking."""
    tracking = (
        f"{order.carrier or 'carrier unknown'} {order.tracking_number}"
        if order.tracking_number
        else "none yet"
    )
    return responses.render(
        "order_status_staff",
        order_number=order.number,
        customer_name=order.customer.name,
        customer_email=order.customer.email,
        placed_date=format_date(order.placed_at.date()),
        status=_staff_status(order, today),
        items=_items(order),
        tracking=tracking,
    )


def _availability(product: Product, responses: Responses) -> str:
    if product.stock is None or product.stock > LOW_STOCK:
        return responses.render("product_in_stock")
    if product.stock > 0:
        return responses.render("product_low_stock", stock=product.stock)
    if product.restock_date is not None:
        return responses.render(
            "product_out_of_stock", restock_date=format_date(product.restock_date)
        )
    return responses.render("product_out_of_stock_undated")


def describe_product(product: Product, responses: Responses) -> str:
    """Price, availability and highlights of one catalog product."""
    return responses.render(
        "product",
        name=product.name,
        price=format_money(product.price, product.currency),
        availability=_availability(product, responses),
        features=_join(list(product.features)) or product.description,
    )


def list_products(products: Sequence[Product], responses: Responses) -> str:
    """The question asked when the user wants product information but named no product."""
    return responses.render("ask_product", product_list=_join([p.name for p in products]))


def describe_policy(policy: ReturnPolicy, responses: Responses) -> str:
    """The general return policy."""
    return responses.render(
        "return_policy",
        window_days=policy.window_days,
        conditions=_join(list(policy.conditions)),
        free_return_reasons=_join(list(policy.free_return_reasons), "or"),
        return_fee=format_money(policy.return_fee, policy.currency),
        refund_time=policy.refund_time,
        exclusions=_join(list(policy.exclusions)).capitalize() or "Some items",
    )


def describe_return(order: Order, policy: ReturnPolicy, today: date, responses: Responses) -> str:
    """Whether this verified order can still be returned, and why (not)."""
    number = order.number
    if order.status is OrderStatus.CANCELLED:
        return responses.render(
            "return_cancelled", order_number=number, refund_note=_refund_note(order)
        )
    if order.status is not OrderStatus.DELIVERED or order.delivered_at is None:
        return responses.render(
            "return_not_delivered", order_number=number, window_days=policy.window_days
        )
    final_sale = [item.name for item in order.items if item.final_sale]
    if final_sale:
        return responses.render("return_final_sale", order_number=number, items=_join(final_sale))
    delivered = order.delivered_at.date()
    deadline = delivered + timedelta(days=policy.window_days)
    if today > deadline:
        return responses.render(
            "return_expired",
            order_number=number,
            delivered_date=format_date(delivered),
            window_days=policy.window_days,
            deadline=format_date(deadline),
        )
    return responses.render(
        "return_eligible",
        order_number=number,
        deadline=format_date(deadline),
        days_left=(deadline - today).days,
        conditions=_join(list(policy.conditions)),
    )


def describe_article(article: HelpArticle, responses: Responses) -> str:
    """A help article's steps, numbered."""
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(article.steps, start=1))
    return responses.render("article", title=article.title, steps=steps)
