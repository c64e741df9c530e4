"""Masking of personal data (email addresses, phone numbers, payment details) before logging.

The masked forms, chosen so a support person can still tell which address or number was used
without the log holding it:

* an email address keeps the first character of its local part and its domain:
  ``alice.martin@example.com`` → ``a***@example.com``;
* a phone number keeps its last two digits: ``+1 (555) 000-1111`` → ``[phone ending 11]``;
* a payment card number (13-19 digits, passing the Luhn check) keeps its last four:
  ``4111 1111 1111 1111`` → ``[card ending 1111]``; an IBAN becomes ``[iban]``.

Order numbers (``#1001``, ``1001``, ``12345``) and tracking numbers (``1Z999AA10123456784``,
digit-only ones of 12+ digits) are left intact: support needs them and they are not personal.
What counts as a phone number: ``+`` followed by 8–15 digits in any grouping; North American
shapes (``555-000-1111``, ``(555) 000 1111``, ``1 555 000 1111``, ``5550001111``, ``555-0111``);
national numbers with a trunk ``0`` and 10–11 digits (``07700 900123``, ``06 12 34 56 78``); or
``00``, a country code and 10–15 digits in all. A bare 10-digit number is therefore masked even
when it is, say, a DHL waybill: privacy wins that tie. Numbers written out in words or with
letters mixed in are not recognised.

Every pattern is linear in the input (possessive quantifiers, anchored starts), so hostile text
costs time proportional to its length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["EMAIL_ADDRESS", "mask_email", "mask_phone", "redact_attributes", "redact_text"]

# A local part starts only where no local-part character precedes it, so a long run of such
# characters is scanned once, not once per position.
_EMAIL = re.compile(r"(?<![\w.%+\-])([\w.%+\-]++)@([\w\-]++(?:\.[\w\-]++)++)")
EMAIL_ADDRESS = _EMAIL
"""An email address anywhere in a text (groups: local part, domain); linear on hostile input."""
_FULL_EMAIL = re.compile(r"[\w.%+\-]++@[\w\-]++(?:\.[\w\-]++)++")

_SEP = r"[ \u00a0.\-]"
# A run of digit groups that might be a phone number. It never starts inside a word, after an
# order-reference "#", or right after a separator (so the tail of a rejected run is not retried).
_PHONE_CANDIDATE = re.compile(
    rf"""
    (?<![\w\#+\-.])
    \+?+
    (?:\(\d{{1,4}}\){_SEP}?)?+
    \d++
    (?:{_SEP}?\(\d{{1,4}}\){_SEP}?\d++ | {_SEP}\d++)*
    (?!\w)
    """,
    re.VERBOSE,
)
_DIGITS = re.compile(r"\d++")
# Group lengths of North American numbers as people type them (the "1" country code removed).
_NANP_SHAPES = ([3, 3, 4], [10], [3, 7], [6, 4])

_EMAIL_MASK = "***"
_BLANK_EMAIL = "[email]"
_BLANK_PHONE = "[phone]"


def mask_email(address: str) -> str:
    """``bob@example.com`` → ``b***@example.com``; anything but one address → ``[email]``."""
    address = address.strip()
    if not _FULL_EMAIL.fullmatch(address):
        return _BLANK_EMAIL
    local, _, domain = address.rpartition("@")
    return f"{local[0]}{_EMAIL_MASK}@{domain}"


def mask_phone(number: str) -> str:
    """``+15550001111`` → ``[phone ending 11]``; ``[phone]`` with fewer than two digits."""
    digits = "".join(_DIGITS.findall(number))
    if len(digits) < 2:
        return _BLANK_PHONE
    return f"[phone ending {digits[-2:]}]"


def _is_phone(candidate: str) -> bool:
    """Whether a run of digit groups has the shape of a phone number (see the module doc)."""
    groups = _DIGITS.findall(candidate)
    digits = "".join(groups)
    if not 7 <= len(digits) <= 15:
        return False
    if candidate.startswith("+"):
        return len(digits) >= 8
    if digits.startswith("00"):  # international dialling prefix, then a country code
        return digits[2] != "0" and 10 <= len(digits) <= 15
    if digits.startswith("0"):  # national trunk prefix, then an area code
        return digits[1] != "0" and 10 <= len(digits) <= 11
    lengths = [len(group) for group in groups]
    if lengths == [11] and digits.startswith("1"):
        return True
    if len(lengths) > 1 and groups[0] == "1":
        lengths = lengths[1:]
    if lengths == [3, 4]:  # a local number, only when written with a hyphen or dot
        return "-" in candidate or "." in candidate
    return lengths in _NANP_SHAPES


def _mask_candidate(match: re.Match[str]) -> str:
    candidate = match.group(0)
    if _is_phone(candidate):
        return mask_phone(candidate)
    groups = list(_DIGITS.finditer(candidate))
    if len(groups) < 2:
        return candidate
    # An order number typed right before or after a phone number: "1003 555 000 1111".
    cut = groups[1].start()
    if _is_phone(candidate[cut:]):
        return candidate[:cut] + mask_phone(candidate[cut:])
    cut = groups[-2].end()
    if _is_phone(candidate[:cut]):
        return mask_phone(candidate[:cut]) + candidate[cut:]
    return candidate


def _mask_email_match(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}{_EMAIL_MASK}@{match.group(2)}"


# Payment card numbers as people write them: 13-19 digits in one run, or in groups of four
# (Amex: 4-6-5) separated by a space or hyphen; masked only when the Luhn checksum holds, so
# order and tracking numbers are left alone.
_CARD_CANDIDATE = re.compile(
    r"(?<![\w+-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})(?![\w-])"
)
# IBAN: country code, two check digits, 11-30 letters/digits, possibly in groups of four.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return f"[card ending {digits[-4:]}]" if _luhn_valid(digits) else match.group()


def redact_text(text: str) -> str:
    """``text`` with every email address, phone number, payment card number (Luhn-valid) and
    IBAN masked (forms in the module doc).

    Idempotent: redacting already redacted text changes nothing.
    """
    if "@" in text:
        text = _EMAIL.sub(_mask_email_match, text)
    text = _CARD_CANDIDATE.sub(_mask_card, text)
    text = _IBAN.sub("[iban]", text)
    return _PHONE_CANDIDATE.sub(_mask_candidate, text)


def redact_attributes(attrs: Mapping[str, str]) -> dict[str, str]:
    """Extracted attributes safe to log: email and phone values masked whole.

    Keys ``email``/``*_email`` and ``phone``/``*_phone`` are masked with ``mask_email`` /
    ``mask_phone``; ``order_number`` and ``product`` are identifiers support needs and are
    kept; any other value (free text such as ``problem``) goes through ``redact_text``.
    """
    redacted: dict[str, str] = {}
    for key, value in attrs.items():
        if key == "email" or key.endswith("_email"):
            redacted[key] = mask_email(value)
        elif key == "phone" or key.endswith("_phone"):
            redacted[key] = mask_phone(value)
        elif key in ("order_number", "product"):
            redacted[key] = value
        else:
            redacted[key] = redact_text(value)
    return redacted
