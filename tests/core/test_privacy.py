"""Personal-data masking: what the turn log keeps of emails and phone numbers, what it leaves."""

from __future__ import annotations

import pytest

from core.privacy import mask_email, mask_phone, redact_attributes, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my email is bob@example.com", "my email is b***@example.com"),
        ("Alice.Martin+shop@mail.example.co.uk.", "A***@mail.example.co.uk."),
        ("<carol@example.com>, thanks", "<c***@example.com>, thanks"),
        ("mailto:x@example.org", "mailto:x***@example.org"),
        ("josé@exämple.fr", "j***@exämple.fr"),
        ("a@b.co and c@d.co", "a***@b.co and c***@d.co"),
    ],
)
def test_emails_keep_first_letter_and_domain(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +15550001111", "call [phone ending 11]"),
        ("call +1 (555) 000-2222.", "call [phone ending 22]."),
        ("+44 7700 900123", "[phone ending 23]"),
        ("+447700900123", "[phone ending 23]"),
        ("0044 7700 900123", "[phone ending 23]"),
        ("555-000-1111", "[phone ending 11]"),
        ("555.000.1111", "[phone ending 11]"),
        ("(555) 000 1111", "[phone ending 11]"),
        ("1 555 000 1111", "[phone ending 11]"),
        ("5550001111", "[phone ending 11]"),
        ("15550001111", "[phone ending 11]"),
        ("07700 900123", "[phone ending 23]"),
        ("06 12 34 56 78", "[phone ending 78]"),
        ("local 555-0111 only", "local [phone ending 11] only"),
        ("(call me: 5550001111)", "(call me: [phone ending 11])"),
        ("tel:+33612345678", "tel:[phone ending 78]"),
    ],
)
def test_phone_numbers_keep_only_the_last_two_digits(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is order #1001?",
        "order 12345 please",
        "my order is 1003",
        "UPS tracking 1Z999AA10123456784",
        "USPS 9400 1000 0000 0000 0000 00",
        "FedEx 123456789012",
        "orders 1001 1002 1003",
        "orders 12345 12346",
        "#5550001111",
        "delivered on 2024-05-17 10:30",
        "it costs $1,299.99 or 1299.99",
        "Bluetooth 5.3, 30 h battery, fits 10-17 inch laptops",
        "firmware v1.2.3 on 192.168.1.20",
        "nothing personal here at all",
        "",
    ],
)
def test_order_numbers_tracking_numbers_and_ordinary_text_are_untouched(text: str) -> None:
    assert redact_text(text) == text


def test_order_number_next_to_a_phone_number_survives() -> None:
    assert redact_text("order 1003 555 000 1111") == "order 1003 [phone ending 11]"
    assert redact_text("5550001111 1003") == "[phone ending 11] 1003"
    assert redact_text("+1 555 000 1111 12345") == "[phone ending 11] 12345"


def test_a_whole_message_is_masked_and_redaction_is_idempotent() -> None:
    text = "Hi, order #1002 (1Z999AA10123456784), I'm alice@example.com, +1 555 000 1111"
    once = redact_text(text)
    assert once == ("Hi, order #1002 (1Z999AA10123456784), I'm a***@example.com, [phone ending 11]")
    assert redact_text(once) == once
    assert "alice" not in once and "0001111" not in once


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 50_000,
        "1 " * 25_000,
        "1-" * 25_000 + "x",
        "(1)" * 20_000,
        "+1" * 25_000,
        "a." * 25_000 + "@",
        "a@" * 25_000,
        "x@" + "a." * 25_000,
        "1.1" * 20_000 + "a",
        "(" * 50_000,
        "\x00\ud800\U0001f600" * 10_000,
    ],
)
def test_hostile_input_is_handled(hostile: str) -> None:
    # Catastrophic backtracking would make these hang rather than fail; each must come back,
    # and redacting the result again must change nothing.
    redacted = redact_text(hostile)
    assert isinstance(redacted, str)
    assert redact_text(redacted) == redacted


def test_attributes_mask_email_and_phone_values_and_keep_references() -> None:
    attrs = {
        "order_number": "1003",
        "email": "bob@example.com",
        "phone": "+15550002222",
        "product": "AURORA-HEADPHONES",
        "problem": "call me on 555-000-2222",
        "verified_email": "not an email",
    }
    assert redact_attributes(attrs) == {
        "order_number": "1003",
        "email": "b***@example.com",
        "phone": "[phone ending 22]",
        "product": "AURORA-HEADPHONES",
        "problem": "call me on [phone ending 22]",
        "verified_email": "[email]",
    }
    assert attrs["email"] == "bob@example.com"  # the input is not modified
    assert redact_attributes({}) == {}


def test_mask_helpers_on_odd_values() -> None:
    assert mask_email("  bob@example.com ") == "b***@example.com"
    assert mask_email("two@example.com other@example.com") == "[email]"
    assert mask_email("") == "[email]"
    assert mask_phone("7") == "[phone]"
    assert mask_phone("") == "[phone]"
    assert mask_phone("+44 7700 900123") == "[phone ending 23]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [card ending 1111] thanks"),
        ("card 5500-0000-0000-0004", "card [card ending 0004]"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [iban] please"),
        ("pay to GB29NWBK60161331926819", "pay to [iban]"),
    ],
)
def test_payment_details_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tracking 1Z999AA10123456784",
        "order #12345 and 1003",
        "parcel 4111111111111112 (not a valid card number)",
    ],
)
def test_numbers_that_are_not_cards_stay(text: str) -> None:
    assert redact_text(text) == text
