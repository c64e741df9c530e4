"""Checks on what a model says a customer's message contains: the model never invents data.

Every value the model returns is checked against the customer's own text or the shop's
catalog, and dropped when it does not hold up:

- an order number must be a whole run of digits in the message the model was shown (so it
  cannot come from a masked email or phone, nor be part of a longer number);
- an email must occur in the message as typed (case-insensitive);
- a phone must normalise (:func:`~core.extraction.normalise_phone`) to a number whose digits
  the message contains in one phone-like run;
- a product must be a catalog SKU or a catalog product's exact name (case and spacing aside);
- an intent must be a known intent; ``"unknown"`` means none;
- a problem summary is one trimmed line of bounded length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.extraction import normalise_phone
from core.shop import Product
from core.types import Attributes

__all__ = ["MAX_PROBLEM_CHARS", "UNKNOWN_INTENT", "CatalogIndex", "ModelReading", "read_answer"]

UNKNOWN_INTENT = "unknown"
"""What the model answers when no known intent fits."""

MAX_PROBLEM_CHARS = 200
"""Longest problem summary kept; a longer one is not a summary and is dropped."""

_DIGIT_RUN = re.compile(r"\d+")
_ORDER_DIGITS = re.compile(r"#?\s?(\d{3,12})")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}")
# A phone as people type it: digits with spaces, dots, dashes and brackets, maybe a "+".
_PHONE_RUN = re.compile(r"\+?\(?\d[\d ().-]{5,24}\d")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ModelReading:
    """What survived validation of one model answer.

    ``intent`` is a known intent, or ``None`` when the model answered ``"unknown"``;
    ``intent_given`` is false when the model's intent was missing or not one of the choices
    (then the local classification stands). ``dropped`` names the fields whose values were
    rejected (for logs: names only, never values).
    """

    intent: str | None
    intent_given: bool
    attributes: Attributes
    dropped: tuple[str, ...] = ()


class CatalogIndex:
    """Resolves what the model names as a product to a catalog SKU: the SKU itself or the
    product's exact name, ignoring case and spacing."""

    def __init__(self, products: Sequence[Product]) -> None:
        self._by_key: dict[str, str] = {}
        for product in products:
            self._by_key.setdefault(_key(product.name), product.sku)
        # SKUs last: a SKU always means its own product.
        for product in products:
            self._by_key[_key(product.sku)] = product.sku

    def resolve(self, value: str) -> str | None:
        """The SKU ``value`` names, or ``None``."""
        return self._by_key.get(_key(value))


def _key(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def read_answer(
    data: Mapping[str, object],
    *,
    original: str,
    shown: str,
    intents: Iterable[str],
    catalog: CatalogIndex,
) -> ModelReading:
    """Validate one structured answer.

    ``original`` is the message as the customer typed it, ``shown`` the (masked) text the model
    was given; ``intents`` are the known intents.
    """
    dropped: list[str] = []

    def keep(name: str, value: str | None) -> str | None:
        if value is None and data.get(name) is not None:
            dropped.append(name)
        return value

    intent, intent_given = _intent(data.get("intent"), frozenset(intents))
    if not intent_given and data.get("intent") is not None:
        dropped.append("intent")
    attributes = Attributes(
        order_number=keep("order_number", order_number_in(data.get("order_number"), shown)),
        email=keep("email", email_in(data.get("email"), original)),
        phone=keep("phone", phone_in(data.get("phone"), original)),
        product=keep("product", _product(data.get("product"), catalog)),
        problem=keep("problem", problem_summary(data.get("problem"))),
    )
    return ModelReading(intent, intent_given, attributes, tuple(dropped))


def _intent(value: object, known: frozenset[str]) -> tuple[str | None, bool]:
    if value == UNKNOWN_INTENT:
        return None, True
    if isinstance(value, str) and value in known:
        return value, True
    return None, False


def order_number_in(value: object, text: str) -> str | None:
    """The bare order number (digits) when ``value`` is one that ``text`` contains as a whole
    run of digits ("#1003" → "1003"), else ``None``."""
    if not isinstance(value, str):
        return None
    m = _ORDER_DIGITS.fullmatch(value.strip())
    if m is None:
        return None
    digits = m.group(1)
    return digits if digits in _DIGIT_RUN.findall(text) else None


def email_in(value: object, text: str) -> str | None:
    """``value`` lower-cased when it is an email address that ``text`` contains, else ``None``."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        return None
    found = (m.group().lower() for m in _EMAIL.finditer(text))
    return email if email in found else None


def phone_in(value: object, text: str) -> str | None:
    """``value`` in E.164 when it is a phone number whose digits ``text`` contains in one
    phone-like run (a national form of the same number counts), else ``None``."""
    if not isinstance(value, str):
        return None
    phone = normalise_phone(value)
    if phone is None:
        return None
    for m in _PHONE_RUN.finditer(text):
        if normalise_phone(m.group()) == phone:
            return phone
    return None


def _product(value: object, catalog: CatalogIndex) -> str | None:
    return catalog.resolve(value) if isinstance(value, str) else None


def problem_summary(value: object) -> str | None:
    """``value`` as one trimmed line when it is a non-empty summary of at most
    :data:`MAX_PROBLEM_CHARS` characters, else ``None``."""
    if not isinstance(value, str):
        return None
    summary = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    if not summary or len(summary) > MAX_PROBLEM_CHARS:
        return None
    return summary
