"""Attribute extraction: order numbers, emails, phones, catalog products and problem topics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.extraction import LocalExtractor, normalise_phone
from core.shop import Product
from core.types import Attributes

AURORA = "AUR-HP-01"
NIMBUS = "NIM-SW-01"
ORBIT = "ORB-SP-01"
ZEPHYR = "ZEP-LS-01"
PULSE = "PUL-FT-01"
TERRA = "TER-BP-01"

CATALOG = (
    Product(sku=AURORA, name="Aurora Wireless Headphones", price=Decimal("129.00"), stock=12),
    Product(sku=NIMBUS, name="Nimbus Smart Watch", price=Decimal("199.00"), stock=0),
    Product(sku=ORBIT, name="Orbit Bluetooth Speaker", price=Decimal("59.00"), stock=30),
    Product(sku=ZEPHYR, name="Zephyr Laptop Stand", price=Decimal("39.00"), stock=8),
    Product(sku=PULSE, name="Pulse Fitness Tracker", price=Decimal("49.00"), stock=3),
    Product(sku=TERRA, name="Terra Hiking Backpack", price=Decimal("89.00"), stock=5),
)
LUMEN = Product(sku="LUM-HP-02", name="Lumen Studio Headphones", price=Decimal("149.00"))


@pytest.fixture(scope="module")
def extractor() -> LocalExtractor:
    return LocalExtractor(CATALOG)


async def extract(extractor: LocalExtractor, text: str, intent: str | None = None) -> Attributes:
    return await extractor.extract(text, text, intent)


# -- order numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1001", "1001"),
        ("Where is order #1001?", "1001"),
        ("order 1001", "1001"),
        ("ORDER 1002 hasn't arrived", "1002"),
        ("order no. 12345", "12345"),
        ("order number: 1003", "1003"),
        ("my order number is 1003", "1003"),
        ("1003", "1003"),
        (" 1003. ", "1003"),
        ("it's 1003 thanks", "1003"),
        ("Where's my package? It's 1003", "1003"),
        ("I ordered 2 stands, the order is 1003", "1003"),
        ("my order 1004 arrived on March 3, 2024", "1004"),
    ],
)
async def test_order_references_come_out_bare(
    extractor: LocalExtractor, text: str, expected: str
) -> None:
    assert (await extract(extractor, text)).order_number == expected


async def test_a_number_beside_an_email_is_the_order_in_a_slot_filling_reply(
    extractor: LocalExtractor,
) -> None:
    attributes = await extract(extractor, "1003 bob@example.com")
    assert attributes.order_number == "1003"
    assert attributes.email == "bob@example.com"


async def test_a_bare_number_counts_in_an_order_conversation_only(
    extractor: LocalExtractor,
) -> None:
    assert (await extract(extractor, "can you check 1002 for me", "order_status")).order_number == (
        "1002"
    )
    assert (await extract(extractor, "I walked 1500 steps today")).order_number is None


@pytest.mark.parametrize(
    "text",
    [
        "my order, call me at +1 555 000 1111",
        "order update please: 555-000-1111",
        "my email for the order is bob1003@example.com",
        "where is my package 1Z999AA10123456784",
        "my order tracking number 77412345",
        "I paid $1299 for my order",
        "I ordered 2 stands",
        "my order says the watch is 5 ATM",
        "order question: does it have Bluetooth 5.3 and 30 h of battery?",
        "I placed the order on March 3, 2024",
        "I placed the order in 2023",
        "I want to order 2000 stands",
        "ordered 2024-05-01",
        "order shipped 12/05/2024",
        "my order cost 1299.00",
    ],
)
async def test_numbers_that_are_not_order_references_are_ignored(
    extractor: LocalExtractor, text: str
) -> None:
    assert (await extract(extractor, text, "order_status")).order_number is None


# -- emails and phones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@example.com", "bob@example.com"),
        ("my email is Bob@Example.COM", "bob@example.com"),
        ("contact alice.martin+shop@mail.example.co.uk.", "alice.martin+shop@mail.example.co.uk"),
        ("email: carol@example.com, order 1005", "carol@example.com"),
    ],
)
async def test_emails_are_found_and_lower_cased(
    extractor: LocalExtractor, text: str, expected: str
) -> None:
    assert (await extract(extractor, text)).email == expected


@pytest.mark.parametrize("text", ["@@@@", "bob@localhost", "me at example dot com", "a@b"])
async def test_things_that_are_not_emails_are_ignored(extractor: LocalExtractor, text: str) -> None:
    assert (await extract(extractor, text)).email is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +1 555 000 1111", "+15550001111"),
        ("+15550002222", "+15550002222"),
        ("+447700900123", "+447700900123"),
        ("my number is +44 7700 900123", "+447700900123"),
        ("(555) 000-1111", "+15550001111"),
        ("555-000-1111", "+15550001111"),
        ("555.000.1111", "+15550001111"),
        ("1-555-000-1111", "+15550001111"),
        ("+1 555 000 1111 order 1001", "+15550001111"),
    ],
)
async def test_phones_are_normalised_to_e164(
    extractor: LocalExtractor, text: str, expected: str
) -> None:
    assert (await extract(extractor, text)).phone == expected


@pytest.mark.parametrize("text", ["order 1001", "12345", "#12345", "+1 555", "it costs $129.00"])
async def test_order_numbers_and_prices_are_not_phones(
    extractor: LocalExtractor, text: str
) -> None:
    assert (await extract(extractor, text)).phone is None


async def test_an_order_next_to_a_phone_keeps_both_apart(extractor: LocalExtractor) -> None:
    attributes = await extract(extractor, "+1 555 000 1111 order 1001")
    assert attributes.phone == "+15550001111"
    assert attributes.order_number == "1001"


def test_normalise_phone() -> None:
    assert normalise_phone("+1 (555) 000-1111") == "+15550001111"
    assert normalise_phone("5550001111") == "+15550001111"
    assert normalise_phone("+44 7700 900123") == "+447700900123"
    assert normalise_phone("12345") is None
    assert normalise_phone("+1 555 000 11112") is None


async def test_identifiers_come_from_the_original_text_and_products_from_the_corrected(
    extractor: LocalExtractor,
) -> None:
    attributes = await extractor.extract(
        "the thingy from my order 1003, Bob@Example.com",
        "the Orbit speaker from my order 1008, bob@sample.com",
        None,
    )
    assert attributes.order_number == "1003"
    assert attributes.email == "bob@example.com"
    assert attributes.product == ORBIT


# -- products -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Aurora Wireless Headphones", AURORA),
        ("do you have the aurora in stock", AURORA),
        ("aurora headfones", AURORA),
        ("my Aurora headphones", AURORA),
        ("nimbus smartwatch", NIMBUS),
        ("nimbus watch", NIMBUS),
        ("is the smart watch waterproof", NIMBUS),
        ("my watch won't charge", NIMBUS),
        ("zephyr stand", ZEPHYR),
        ("the laptop stand wobbles", ZEPHYR),
        ("how do I reset the speaker", ORBIT),
        ("orbit bluetoth speaker", ORBIT),
        ("Pulse Fitness Tracker", PULSE),
        ("fitness trackers", PULSE),
        ("terra backpack", TERRA),
        ("hiking backpacks", TERRA),
        ("headphones don't connect to my phone", AURORA),
    ],
)
async def test_products_are_matched_to_their_sku(
    extractor: LocalExtractor, text: str, expected: str
) -> None:
    assert (await extract(extractor, text)).product == expected


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather in Paris",
        "where is my order",
        "I can't stand waiting this long",
        "I watch videos all day",
        "hello",
        "",
    ],
)
async def test_unrelated_text_names_no_product(extractor: LocalExtractor, text: str) -> None:
    assert (await extract(extractor, text)).product is None


async def test_a_generic_word_shared_by_two_products_names_neither() -> None:
    extractor = LocalExtractor((*CATALOG, LUMEN))
    assert (await extract(extractor, "my headphones are broken")).product is None
    assert (await extract(extractor, "my aurora headphones are broken")).product == AURORA
    assert (await extract(extractor, "the lumen studio headphones")).product == LUMEN.sku


async def test_the_longest_product_name_wins(extractor: LocalExtractor) -> None:
    # "pulse" alone would name the tracker; the full watch name is the better match.
    attributes = await extract(extractor, "does the nimbus smart watch measure my pulse")
    assert attributes.product == NIMBUS


async def test_an_empty_catalog_finds_no_products() -> None:
    assert (await extract(LocalExtractor([]), "aurora headphones")).product is None


# -- problem topics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my watch is not charging", "not charging"),
        ("the watch won't charge", "not charging"),
        ("headphones won't pair with my phone", "pairing"),
        ("speaker keeps disconnecting", "pairing"),
        ("how do I factory reset the speaker", "reset"),
        ("tracker not syncing with app", "sync"),
        ("I forgot my password", "password"),
        ("reset my password please", "password"),
        ("I can't log in", "login"),
        ("the app crashes when I open it", "crash"),
        ("no sound from the left ear", "no sound"),
        ("battery drains overnight", "battery"),
        ("how do I reset my Orbit Bluetooth Speaker", "reset"),
        ("bluetooth keeps dropping", "pairing"),
    ],
)
async def test_technical_problems_get_a_topic(
    extractor: LocalExtractor, text: str, expected: str
) -> None:
    assert (await extract(extractor, text, "tech_support")).problem == expected


async def test_problem_topics_only_for_technical_or_unknown_intents(
    extractor: LocalExtractor,
) -> None:
    assert (await extract(extractor, "my watch won't charge")).problem == "not charging"
    assert (await extract(extractor, "is the watch charging fast?", "product_info")).problem is None
    assert (await extract(extractor, "what a lovely day", "tech_support")).problem is None


# -- hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@@@@" * 500,
        "a@" * 1000,
        "+1" * 1000,
        "1" * 2000,
        "1," * 1000,
        "(" * 1000 + ")" * 1000,
        "order " * 330,
        "😀🔥" * 500,
        "x" * 2000,
        "a.b-c_" * 330 + "@",
        "# " * 1000,
        "tracking " * 220,
    ],
)
async def test_hostile_input_is_handled(extractor: LocalExtractor, text: str) -> None:
    attributes = await extract(extractor, text, "tech_support")
    assert attributes.order_number is None
    assert attributes.email is None
    assert attributes.phone is None
    assert attributes.product is None


async def test_a_long_message_still_yields_its_attributes(extractor: LocalExtractor) -> None:
    text = "blah " * 50 + "my order #1002 for the orbit speaker, bob@example.com " + "🙂" * 500
    attributes = await extract(extractor, text)
    assert attributes == Attributes(
        order_number="1002", email="bob@example.com", product=ORBIT, problem=None
    )
