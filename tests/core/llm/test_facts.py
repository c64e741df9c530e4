"""The fact check: real template replies (demo shop) against faithful and hallucinated drafts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import answers
from core.llm.facts import amounts, facts_in, missing_facts, unsupported_facts
from core.responses import Responses, load_responses
from crm_adapters.demo.articles import DEMO_ARTICLES
from crm_adapters.demo.catalog import DEMO_RETURN_POLICY, demo_products
from crm_adapters.demo.seed import demo_orders

SEEDED = datetime(2025, 3, 3, 12, tzinfo=UTC)
TODAY = SEEDED.date()
RESPONSES: Responses = load_responses(Path(__file__).parents[3] / "config" / "responses.yaml")
ORDERS = {order.number: order for order in demo_orders(SEEDED)}
PRODUCTS = {product.name: product for product in demo_products(SEEDED)}

SHIPPED = answers.describe_order(ORDERS["1002"], TODAY, RESPONSES)
PROCESSING = answers.describe_order(ORDERS["1003"], TODAY, RESPONSES)
CANCELLED = answers.describe_order(ORDERS["1004"], TODAY, RESPONSES)
NOT_DELIVERED = answers.describe_return(ORDERS["1002"], DEMO_RETURN_POLICY, TODAY, RESPONSES)
POLICY = answers.describe_policy(DEMO_RETURN_POLICY, RESPONSES)
NIMBUS = answers.describe_product(PRODUCTS["Nimbus Smart Watch"], RESPONSES)
PULSE = answers.describe_product(PRODUCTS["Pulse Fitness Tracker"], RESPONSES)
ARTICLE = answers.describe_article(DEMO_ARTICLES[0], RESPONSES)


def test_the_templates_render_the_facts_these_tests_rely_on() -> None:
    assert SHIPPED == (
        "Your order #1002 shipped on Sunday, March 2, 2025 with UPS, tracking number "
        "1Z999AA10123456784. It should arrive in 2 days (Wednesday, March 5, 2025). "
        "Items: 1 × Orbit Bluetooth Speaker."
    )
    assert "within 2 days. Items: 2 × Zephyr Laptop Stand" in PROCESSING
    assert "out of stock at the moment; we expect new stock around Monday, March 17" in NIMBUS


def test_the_facts_of_a_shipped_order_are_read() -> None:
    facts = facts_in(SHIPPED)
    assert facts.values("order_number") == {"1002"}
    assert facts.values("tracking_number") == {"1Z999AA10123456784"}
    assert facts.values("carrier") == {"ups"}
    assert facts.values("date") == {"3-2-2025", "3-5-2025"}
    assert facts.values("status") == {"shipped:yes", "delivered:expected"}
    assert facts.values("quantity") == {"1"}
    assert facts.values("duration") == {"2 day"}


@pytest.mark.parametrize(
    "written, value",
    [
        ("1,299.00", "1299"),
        ("1299", "1299"),
        ("5.95", "5.95"),
        ("5,95", "5.95"),
        ("1.299,00", "1299"),
    ],
)
def test_amounts_are_normalised(written: str, value: str) -> None:
    assert value in amounts(written)


@pytest.mark.parametrize(
    "draft",
    [
        "$1,299.00",
        "$1299",
        "1299 USD",
        "USD 1,299",
        "1.299,00 $",
        "1299 dollars",
    ],
)
def test_the_same_amount_and_currency_is_supported(draft: str) -> None:
    assert unsupported_facts(f"It costs {draft}.", "Price: $1,299.00.") == []


@pytest.mark.parametrize("draft", ["1299 €", "£1,299.00", "$1,300.00", "129.90 USD"])
def test_another_amount_or_currency_is_not(draft: str) -> None:
    assert unsupported_facts(f"It costs {draft}.", "Price: $1,299.00.") != []


FAITHFUL_SHIPPED = [
    "Good news! Your order #1002 is on its way: it shipped with UPS on Sunday, March 2, 2025 "
    "(tracking number 1Z999AA10123456784) and should arrive in 2 days, on Wednesday, March 5, "
    "2025. It contains 1 × Orbit Bluetooth Speaker.",
    "¡Buenas noticias! Tu pedido #1002 se envió el domingo 2 de marzo de 2025 con UPS (número "
    "de seguimiento 1Z999AA10123456784) y debería llegar en 2 días, el miércoles 5 de marzo de "
    "2025. Contiene 1 × Orbit Bluetooth Speaker.",
    "Votre commande #1002 a été expédiée le dimanche 2 mars 2025 avec UPS, numéro de suivi "
    "1Z999AA10123456784. Elle devrait arriver dans 2 jours (mercredi 5 mars 2025).",
    "Ihre Bestellung #1002 wurde am Sonntag, 2. März 2025 mit UPS versandt, Sendungsnummer "
    "1Z999AA10123456784. Sie sollte in zwei Tagen ankommen (Mittwoch, 5. März 2025).",
    "Order 1002 shipped on 2025-03-02 with UPS (tracking 1Z999AA10123456784); it should "
    "arrive on March 5th.",
]


@pytest.mark.parametrize("draft", FAITHFUL_SHIPPED)
def test_faithful_paraphrases_of_a_shipped_order_pass(draft: str) -> None:
    assert unsupported_facts(draft, SHIPPED) == []
    assert missing_facts(draft, SHIPPED) == []


HALLUCINATED_SHIPPED = {
    "changed delivery date": "Your order #1002 shipped with UPS, tracking number "
    "1Z999AA10123456784. It should arrive on Thursday, March 6, 2025.",
    "changed date, Spanish": "Tu pedido #1002 se envió con UPS (seguimiento 1Z999AA10123456784) "
    "y debería llegar el 7 de marzo.",
    "changed date, ISO": "Order #1002 (tracking 1Z999AA10123456784) arrives on 2025-03-07.",
    "tomorrow": "Your order #1002 shipped with UPS (1Z999AA10123456784) and arrives tomorrow.",
    "delivered instead of shipped": "Your order #1002 was delivered on Wednesday, March 5, 2025 "
    "(tracking number 1Z999AA10123456784).",
    "delivered, Spanish": "Tu pedido #1002 fue entregado (seguimiento 1Z999AA10123456784).",
    "out for delivery": "Your order #1002 is out for delivery, tracking 1Z999AA10123456784.",
    "invented tracking number": "Your order #1002 shipped with UPS, tracking number "
    "1Z999AA10123456799.",
    "another carrier": "Your order #1002 shipped with FedEx, tracking 1Z999AA10123456784.",
    "added price": "Your order #1002 (1 × Orbit Bluetooth Speaker, $59.00) shipped with UPS, "
    "tracking 1Z999AA10123456784.",
    "changed quantity": "Your order #1002 of 2 × Orbit Bluetooth Speaker shipped with UPS, "
    "tracking 1Z999AA10123456784.",
    "invented URL": "Your order #1002 shipped with UPS: track 1Z999AA10123456784 at "
    "https://ups.com/track.",
    "invented email": "Your order #1002 shipped (1Z999AA10123456784). Questions? help@shop.example",
    "invented phone": "Your order #1002 shipped (1Z999AA10123456784). Call +1 555 010 9999.",
    "another order": "Your order #1003 shipped with UPS, tracking 1Z999AA10123456784.",
    "invented duration": "Order #1002 shipped (1Z999AA10123456784), arrives within 48 hours.",
    "invented percentage": "Order #1002 shipped (1Z999AA10123456784); 10% off your next order!",
    "invented stock claim": "Order #1002 shipped (1Z999AA10123456784). The speaker is in stock.",
}


@pytest.mark.parametrize("draft", HALLUCINATED_SHIPPED.values(), ids=HALLUCINATED_SHIPPED.keys())
def test_hallucinated_variants_of_a_shipped_order_are_caught(draft: str) -> None:
    assert unsupported_facts(draft, SHIPPED) != []


def test_the_unsupported_facts_are_named_with_personal_data_masked() -> None:
    draft = "Order #1002: 1Z999AA10123456799, write to someone@example.com or call +15550001111."
    found = unsupported_facts(draft, SHIPPED)
    assert "tracking_number '1Z999AA10123456799'" in found
    assert not any("someone@" in item or "5550001111" in item for item in found)
    assert any(item.startswith("email") for item in found)
    assert any(item.startswith("phone") for item in found)


def test_leaving_out_the_tracking_number_or_the_order_number_is_missing_facts() -> None:
    assert missing_facts("Your order #1002 shipped with UPS.", SHIPPED) == [
        "tracking_number '1Z999AA10123456784'"
    ]
    assert missing_facts("It shipped, tracking 1Z999AA10123456784.", SHIPPED) == [
        "order_number 'order #1002'"
    ]
    assert missing_facts("Nimbus Smart Watch is out of stock.", NIMBUS) == ["money '$199.00'"]


def test_a_processing_order_keeps_its_ship_window() -> None:
    faithful = "Tu pedido #1003 se está procesando y se enviará en un plazo de 2 días (2 × Zephyr)."
    assert unsupported_facts(faithful, PROCESSING) == []
    assert unsupported_facts("Your order #1003 has shipped.", PROCESSING) != []
    assert unsupported_facts("Your order #1003 will ship within 3 days.", PROCESSING) != []
    assert unsupported_facts("Your order #1003 will ship within 2 weeks.", PROCESSING) != []


def test_a_negated_status_stays_negated() -> None:
    faithful = (
        "El pedido #1002 aún no ha sido entregado, así que no hay nada que devolver. Cuando "
        "llegue, tendrás 30 días para devolverlo."
    )
    assert unsupported_facts(faithful, NOT_DELIVERED) == []
    assert unsupported_facts("Order #1002 was delivered, you have 30 days.", NOT_DELIVERED) != []


def test_a_cancelled_and_refunded_order() -> None:
    faithful = (
        "Tu pedido #1004 fue cancelado el miércoles 26 de febrero de 2025 y reembolsado a tu "
        "método de pago original. Artículos: 1 × Terra Hiking Backpack."
    )
    assert unsupported_facts(faithful, CANCELLED) == []
    assert unsupported_facts("Your order #1004 was cancelled, not refunded.", CANCELLED) != []
    assert unsupported_facts("Your order #1004 was delivered.", CANCELLED) != []


def test_stock_claims() -> None:
    faithful = (
        "El Nimbus Smart Watch cuesta $199.00. Está agotado por ahora; esperamos nuevo stock "
        "hacia el lunes 17 de marzo de 2025."
    )
    assert unsupported_facts(faithful, NIMBUS) == []
    assert unsupported_facts("Nimbus Smart Watch: $199.00, in stock.", NIMBUS) != []
    assert unsupported_facts("Pulse Fitness Tracker: $49.00, only 3 left.", PULSE) == []
    assert unsupported_facts("Pulse Fitness Tracker: $49.00, only 5 left.", PULSE) != []
    assert unsupported_facts("Pulse Fitness Tracker: $49.00, out of stock.", PULSE) != []


def test_the_return_policy() -> None:
    faithful = (
        "Puedes devolver artículos en un plazo de 30 días desde la entrega si están sin usar y "
        "en su embalaje original. Si un artículo es defectuoso o no es el correcto, la etiqueta "
        "de devolución es gratis; si no, se descuentan $5.95 del reembolso. El reembolso llega "
        "a tu método de pago original en 5–7 días hábiles."
    )
    assert unsupported_facts(faithful, POLICY) == []
    assert unsupported_facts(faithful.replace("30 días", "60 días"), POLICY) != []
    assert unsupported_facts(faithful.replace("$5.95", "$4.95"), POLICY) != []
    assert unsupported_facts(faithful.replace("$5.95", "5,95 €"), POLICY) != []


def test_a_guide_keeps_its_numbers() -> None:
    faithful = ARTICLE.replace("Here's our guide", "Try our guide")
    assert unsupported_facts(faithful, ARTICLE) == []
    assert unsupported_facts(ARTICLE.replace("5 seconds", "10 seconds"), ARTICLE) != []
    assert unsupported_facts(ARTICLE.replace("up to 8 devices", "up to 12 devices"), ARTICLE) != []
    assert unsupported_facts(ARTICLE + "\n7. Visit www.aurora-support.com.", ARTICLE) != []


def test_a_text_without_facts_has_none() -> None:
    assert facts_in("Hi! How can I help you?").facts == ()
    assert unsupported_facts("Happy to help!", "Thanks for getting in touch.") == []


@pytest.mark.parametrize(
    "draft",
    [
        SHIPPED + " As a goodwill gesture we've issued you a store credit.",
        SHIPPED + " Return shipping on this order is free.",
        SHIPPED + " Here is a 10% discount code for the wait.",
        "Tu pedido #1002 salió con UPS. Te enviamos un cupón de regalo por la espera.",
    ],
)
def test_a_promise_the_answer_does_not_make_is_unsupported(draft: str) -> None:
    assert any(fact.startswith("promise") for fact in unsupported_facts(draft, SHIPPED))


def test_promises_the_answer_makes_and_idioms_pass() -> None:
    faithful = (
        "Unused items in their original packaging can go back within 30 days of delivery. "
        "When an item is defective or wrong, the return label is free; otherwise $5.95 comes "
        "off your refund. Refunds reach your original payment method 5–7 business days after "
        "the return arrives. Final-sale items can't be returned."
    )
    assert unsupported_facts(faithful, POLICY) == []
    polite = SHIPPED + " Feel free to ask if anything else comes up."
    assert unsupported_facts(polite, SHIPPED) == []
