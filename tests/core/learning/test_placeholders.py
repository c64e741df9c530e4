"""Placeholders: personal data in raw and in core.privacy's masked forms."""

from __future__ import annotations

import pytest

from core.learning.placeholders import with_placeholders
from core.privacy import redact_text

SHOP = ["Aurora", "Wireless", "Headphones"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is order #12345", "where is order <number>"),
        ("tracking 1Z999AA10123456784 please", "tracking <number> please"),
        ("it cost $45.99", "it cost <number>"),
        ("email me at bob.jones@example.com", "email me at <email>"),
        ("b***@example.com", "<email>"),
        ("call me on +44 7700 900123", "call me on <phone>"),
        ("my number is [phone ending 22]", "my number is <phone>"),
        ("card [card ending 1111]", "card <number>"),
        ("my name is John Smith", "my name is <name>"),
        ("my name is john smith and I need help", "my name is <name> and I need help"),
        ("I'm Zoe, order 1003 never came", "I'm <name>, order <number> never came"),
        ("this is Priya from Leeds", "this is <name> from <name>"),
        ("I ordered it and Carol said no", "I ordered it and <name> said no"),
        # Names in other alphabets are replaced whole, not cut at the first accented letter.
        ("my name is Hans Müller", "my name is <name>"),
        ("my name is josé garcía, order 12", "my name is <name>, order <number>"),
        ("the parcel for Zoë Ørsted is late", "the parcel for <name> is late"),
        # A capitalised surname after "my name is" goes too, even a common word; a title's
        # full stop does not start a sentence.
        ("My name is Rose Brown", "My name is <name>"),
        ("my name is Will and I want a refund", "my name is <name> and I want a refund"),
        ("please ask Dr. Smith", "please ask <name>. <name>"),
        # International phones, plus-addressed emails, order numbers with letters.
        ("ring +49 (0)30 123456-78 or +33 6 12 34 56 78", "ring <phone> or <phone>"),
        ("write to ZOE_K+shop@Mail.Example.co.uk", "write to <email>"),
        ("order AB-77812X and XK4471", "order <number> and <number>"),
        # Not names: sentence starts, common words, weekdays, acronyms and the catalog.
        ("Where is my Aurora Wireless Headphones order?", None),
        ("My order from Friday is late", None),
        ("I'm waiting for my order", None),
        ("the DHL man never came", None),
        ("Parcel never came. Still waiting", None),
    ],
)
def test_personal_data_becomes_placeholders(text: str, expected: str | None) -> None:
    assert with_placeholders(text, SHOP) == (text if expected is None else expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A name starting a sentence: before a surname, "here" / "speaking", or a full stop.
        ("Sarah Jones here", "<name> here"),
        ("Mark here.", "<name> here."),
        ("hi sarah here, my parcel is late", "hi <name> here, my parcel is late"),
        ("John. where is my order", "<name>. where is my order"),
        ("John Smith", "<name>"),
        # Introductions in lower case, with a lower-case surname.
        ("i'm john smith", "i'm <name>"),
        ("hi this is sarah", "hi this is <name>"),
        ("it's me, priya", "it's me, <name>"),
        ("thanks, sarah", "thanks, <name>"),
        ("Thanks, John", "Thanks, <name>"),
        ("Regards,\nJohn Smith", "Regards,\n<name>"),
        ("I'm Mark and my order is late", "I'm <name> and my order is late"),
        # Names in capitals.
        ("JOHN SMITH order 12345", "<name> order <number>"),
        ("MY NAME IS JOHN SMITH", "MY NAME IS <name>"),
    ],
)
def test_names_are_found_wherever_a_customer_gives_them(text: str, expected: str) -> None:
    assert with_placeholders(text, SHOP) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order",
        "Hello, I need help",
        "Thanks.",
        "Refund.",
        "Monday.",
        "Aurora Wireless here",
        "Aurora Wireless Headphones.",
        "my USB cable is broken",
        "OK thanks",
        "I need it ASAP",
        "my PIN is wrong",
        "MY PARCEL ARRIVED DAMAGED",
        "I'm waiting for my parcel",
        "this is taking forever",
        "it's broken",
        "it's delayed again",
        "this is unacceptable",
        "i'm frustrated",
        "call me back please",
        "cheers, mate",
        "Same here",
        "Honestly speaking, no",
        "Rose gold version please",
    ],
)
def test_ordinary_text_keeps_its_words(text: str) -> None:
    assert with_placeholders(text, SHOP) == text


def test_redacted_and_raw_messages_get_the_same_placeholders() -> None:
    raw = "I'm Zoe, mail zoe.k@example.com or ring 555-123-4567 about #1003"
    assert with_placeholders(redact_text(raw)) == with_placeholders(raw)
    assert with_placeholders(raw) == "I'm <name>, mail <email> or ring <phone> about <number>"


def test_placeholders_are_idempotent() -> None:
    once = with_placeholders("my name is Ann, order 1003, ann@example.com")
    assert with_placeholders(once) == once
