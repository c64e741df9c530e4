"""The demo shop's catalog and return policy: fixed facts other tests rely on.

The first six products, their prices, stock and key features, and every value of the return
policy are part of the demo-shop contract (issue 2); the other products are extra variety.
Only the Nimbus restock date moves: it is relative to when the database is seeded.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from core.shop import Product, ReturnPolicy

__all__ = [
    "AURORA_SKU",
    "BRAND",
    "DEMO_RETURN_POLICY",
    "GIFT_CARD_SKU",
    "NIMBUS_RESTOCK_DAYS",
    "NIMBUS_SKU",
    "ORBIT_SKU",
    "PHONE_CASE_SKU",
    "PULSE_SKU",
    "TERRA_SKU",
    "ZEPHYR_SKU",
    "demo_products",
]

BRAND = "Shopbot Demo"

AURORA_SKU = "AUR-HP-01"
NIMBUS_SKU = "NIM-SW-01"
ORBIT_SKU = "ORB-SP-01"
ZEPHYR_SKU = "ZEP-LS-01"
PULSE_SKU = "PUL-FT-01"
TERRA_SKU = "TER-BP-01"
PHONE_CASE_SKU = "KES-PC-01"
GIFT_CARD_SKU = "GFT-GC-50"

NIMBUS_RESTOCK_DAYS = 14

DEMO_RETURN_POLICY = ReturnPolicy(
    window_days=30,
    conditions=("unused", "in the original packaging"),
    free_return_reasons=("defective", "the wrong item"),
    return_fee=Decimal("5.95"),
    refund_time="5–7 business days",
    exclusions=("final-sale items",),
)
"""30 days from delivery; a free label for defective or wrong items, otherwise $5.95 deducted."""


def _product(
    sku: str,
    name: str,
    price: str,
    description: str,
    features: tuple[str, ...],
    *,
    stock: int | None,
    restock_date: date | None = None,
    final_sale: bool = False,
) -> Product:
    return Product(
        sku=sku,
        name=name,
        price=Decimal(price),
        brand=BRAND,
        description=description,
        features=features,
        stock=stock,
        restock_date=restock_date,
        final_sale=final_sale,
    )


def _contract_products(seeded_at: datetime) -> tuple[Product, ...]:
    """The six products whose facts the issue fixes."""
    restock = (seeded_at + timedelta(days=NIMBUS_RESTOCK_DAYS)).date()
    return (
        _product(
            AURORA_SKU,
            "Aurora Wireless Headphones",
            "129.00",
            "Over-ear wireless headphones for travel and long listening sessions.",
            ("Bluetooth 5.3", "30 h battery", "Active noise cancelling"),
            stock=25,
        ),
        _product(
            NIMBUS_SKU,
            "Nimbus Smart Watch",
            "199.00",
            "A sports smartwatch that tracks runs, rides and swims.",
            ("GPS", "Heart-rate monitor", "5 ATM water resistance"),
            stock=0,
            restock_date=restock,
        ),
        _product(
            ORBIT_SKU,
            "Orbit Bluetooth Speaker",
            "59.00",
            "A palm-sized speaker for the garden, the beach and the shower.",
            ("12 h battery", "IPX7 waterproof"),
            stock=40,
        ),
        _product(
            ZEPHYR_SKU,
            "Zephyr Laptop Stand",
            "39.00",
            "A folding stand that lifts the screen to eye level.",
            ("Aluminium", 'Fits 10–17" laptops'),
            stock=60,
        ),
        _product(
            PULSE_SKU,
            "Pulse Fitness Tracker",
            "49.00",
            "A slim band that counts steps and shows how well you slept.",
            ("Sleep tracking", "7-day battery"),
            stock=3,
        ),
        _product(
            TERRA_SKU,
            "Terra Hiking Backpack",
            "89.00",
            "A day pack with a ventilated back panel, a hip belt and room for a jacket.",
            ("35 L", "Waterproof"),
            stock=15,
        ),
    )


# Names are chosen so no two products share a distinctive word, which keeps fuzzy matching
# of product mentions unambiguous.
_EXTRA_PRODUCTS = (
    _product(
        "VLT-CH-01",
        "Volt USB-C Charger",
        "35.00",
        "A compact wall charger that powers a laptop and a phone at once.",
        ("65 W", "Two USB-C ports and one USB-A port", "Folding plug"),
        stock=80,
    ),
    _product(
        PHONE_CASE_SKU,
        "Kestrel Phone Case",
        "19.00",
        "A shock-absorbing case with raised edges around the camera. Final sale.",
        ("Drop-tested to 2 m", "Raised camera lip", "Wireless-charging friendly"),
        stock=120,
        final_sale=True,
    ),
    _product(
        GIFT_CARD_SKU,
        "Digital Gift Card",
        "50.00",
        "A $50 gift card sent by email, valid for 3 years. Final sale.",
        ("Delivered by email within minutes", "Valid for 3 years"),
        stock=None,
        final_sale=True,
    ),
    _product(
        "RIP-EB-01",
        "Ripple Earbuds",
        "79.00",
        "True wireless earbuds with a pocket-sized charging case.",
        ("Bluetooth 5.3", "6 h battery, 24 h with the case", "IPX4 sweat resistant"),
        stock=30,
    ),
    _product(
        "LUM-DL-01",
        "Lumen Desk Lamp",
        "45.00",
        "A dimmable LED lamp with a USB-C port in the base for charging a phone.",
        ("Dimmable LED", "Three colour temperatures", "USB-C charging port"),
        stock=22,
    ),
    _product(
        "GLA-WB-01",
        "Glacier Water Bottle",
        "25.00",
        "A stainless-steel bottle that keeps drinks cold all day.",
        ("750 ml", "Double-wall insulated", "Cold for 24 h"),
        stock=50,
    ),
    _product(
        "CRN-TP-01",
        "Cairn Trekking Poles",
        "69.00",
        "A pair of carbon poles that fold to 38 cm for the backpack.",
        ("Carbon fibre", "Folds to 38 cm", "Cork grips"),
        stock=12,
    ),
)


def demo_products(seeded_at: datetime) -> tuple[Product, ...]:
    """The demo catalog as seeded at ``seeded_at``, in catalog order."""
    return _contract_products(seeded_at) + _EXTRA_PRODUCTS
