"""Training examples as records for fine-tuning the understanding model (chat JSONL).

Stored examples carry placeholders (``<number>``, ``<email>``, ``<phone>``, ``<name>``) where the
customer wrote personal data. A model fine-tuned on those would learn to expect the
placeholders, which real traffic never has, and to answer ``null`` for details the customer
did give. So each placeholder becomes a stand-in value of the same kind — invented, the same
in every export — in the customer's text, and the structured answer states the order number,
email and phone the text now holds, as the understanding step is expected to.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from core.learning.placeholders import EMAIL, NAME, NUMBER, PHONE
from core.learning.types import Example

__all__ = ["STAND_INS", "fine_tuning_record", "with_stand_ins"]

STAND_INS = {
    EMAIL: "customer@example.com",
    PHONE: "+15550100199",
    NAME: "Sam Taylor",
}
"""What replaces each placeholder but ``<number>`` (numbered: ``10231``, ``10232``…)."""

_FIRST_NUMBER = 10231
# Intents whose number is an order number (elsewhere a number is a quantity, a model...).
_ORDER_INTENTS = frozenset({"order_status", "return_policy"})
_ATTRIBUTES = ("order_number", "email", "phone", "product", "problem")


def with_stand_ins(text: str) -> tuple[str, list[str]]:
    """``text`` with its placeholders replaced by stand-ins, and the numbers put in."""
    numbers: list[str] = []
    parts = text.split(NUMBER)
    out = parts[0]
    for part in parts[1:]:
        numbers.append(str(_FIRST_NUMBER + len(numbers)))
        out += numbers[-1] + part
    for placeholder, value in STAND_INS.items():
        out = out.replace(placeholder, value)
    return out, numbers


def fine_tuning_record(
    example: Example, system: str, as_user_message: Callable[[str], str]
) -> dict[str, object]:
    """One chat fine-tuning record: the system prompt, the customer's text as the
    understanding step sends it (``as_user_message``), and the structured answer it should
    give."""
    text, numbers = with_stand_ins(example.text)
    answer: dict[str, object] = {"intent": example.intent, **dict.fromkeys(_ATTRIBUTES)}
    if numbers and example.intent in _ORDER_INTENTS:
        answer["order_number"] = numbers[0]
    if STAND_INS[EMAIL] in text:
        answer["email"] = STAND_INS[EMAIL]
    if STAND_INS[PHONE] in text:
        answer["phone"] = STAND_INS[PHONE]
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": as_user_message(text)},
            {"role": "assistant", "content": json.dumps(answer)},
        ]
    }
