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


def test_redacted_and_raw_messages_get_the_same_placeholders() -> None:
    raw = "I'm Zoe, mail zoe.k@example.com or ring 555-123-4567 about #1003"
    assert with_placeholders(redact_text(raw)) == with_placeholders(raw)
    assert with_placeholders(raw) == "I'm <name>, mail <email> or ring <phone> about <number>"


def test_placeholders_are_idempotent() -> None:
    once = with_placeholders("my name is Ann, order 1003, ann@example.com")
    assert with_placeholders(once) == once
