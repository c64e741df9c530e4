"""The understanding cascade: the local pipeline answers, the model helps only when it is unsure.

:class:`CascadeUnderstander` implements :class:`~core.ports.MessageUnderstander`. For each
message it runs the local :class:`~core.understanding.Understander` (spelling, classifier,
extractor) and then asks the model *only* when all of these hold:

1. the text is not empty;
2. the local classifier is unsure: no intent, or a confidence below ``threshold``
   (``llm.cascade_threshold``);
3. the message is not a slot answer: a message in which the local extractor found an order
   number, email or phone and which, those identifiers and a few filler words ("it's", "my",
   "order", "email"…) removed, has fewer than :data:`SLOT_ANSWER_WORDS` words ("1003",
   "bob@example.com", "it's 1003 bob@example.com"). The dialogue already knows what to do
   with those (they answer the question it asked), and they are a large share of all
   messages in a conversation: skipping them is what keeps the cascade under the target of
   0.35 model calls per user message.

Then it makes ONE structured call (purpose ``understand``) for intent and attributes. The
customer text goes in masked (:func:`~core.llm.mask_personal`: the model needs no email or
phone to tell what the customer wants, the local extractor reads those from the text as typed)
and delimited as data (:func:`~core.llm.as_data`). What comes back is validated
(:mod:`core.llm.validation`): invented order numbers, emails, phones and products are dropped.

Merging: the local attributes win where present (they come from the text as typed; the
extractor runs again with the final intent, since whether a bare number is an order number
depends on it), the model fills the gaps. The model's problem summary is kept only for a
``tech_support`` intent: for an unknown intent it would otherwise turn every unclear message
into a support request and skip the clarify loop. A known intent from the model replaces the
local verdict; the local confidence and ranking stay (they are the classifier's numbers, which
the turn log reports, and the clarify loop's suggestions). ``"unknown"`` makes the intent
``None``: the clarify loop follows as without a model.

Any model failure (unavailable, rate limited, bad output, circuit open, past the deadline)
leaves the local result; the call is recorded either way in ``Understanding.model_calls``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from core.errors import LLMError
from core.extraction import TECH_SUPPORT_INTENT
from core.llm.client import LLMClient, outcome_of
from core.llm.prompts import as_data, data_rule, mask_personal
from core.llm.types import ChatMessage, LLMResponse
from core.llm.validation import UNKNOWN_INTENT, CatalogIndex, ModelReading, read_answer
from core.shop import Product
from core.types import Attributes, Classification, ModelCall, Understanding
from core.understanding import Understander

__all__ = [
    "CUSTOMER_MESSAGE",
    "PURPOSE",
    "SLOT_ANSWER_WORDS",
    "CascadeUnderstander",
    "is_slot_answer",
    "understanding_schema",
    "understanding_system_prompt",
]

log = logging.getLogger(__name__)

PURPOSE = "understand"
"""The purpose the calls are counted under (metrics, turn log)."""

CUSTOMER_MESSAGE = "customer_message"
"""The label of the data block holding the customer's text."""

SLOT_ANSWER_WORDS = 3
"""A message with an identifier and fewer other words than this is a slot answer."""

SCHEMA_NAME = "customer_request"

# Catalogs up to this size are listed in the prompt and enumerated in the schema; a larger one
# would cost more tokens per call than the call is worth, so the model names the product and
# the name is resolved against the catalog.
MAX_LISTED_PRODUCTS = 200
_MAX_PROBLEM_WORDS = 20

_SYSTEM_PROMPT = """\
You are the language-understanding step of an online shop's customer-support chat. You read \
one customer message and say what the customer wants. You never answer the customer.

Fill in the JSON object:
- intent: the one intent below that fits the message best, or "unknown" when none fits or \
the message is not about the shop.
- order_number: the order number the customer wrote, exactly as written, or null.
- email, phone: as the customer wrote them, or null. Masked values (like a***@example.com or \
[phone ending 11]) are not values: use null.
- product: {product_rule}, or null when the customer names no product of the catalog.
- problem: when something the customer has does not work, a short summary in English (at most \
{problem_words} words) of what is wrong; otherwise null.
Never invent or guess a value: null is always better than a guess.

Intents:
{intents}
{catalog}
{data_rule}"""

_PRODUCT_RULE_LISTED = "the SKU of the catalog product the customer names"
_PRODUCT_RULE_NAMED = "the full name of the shop's product the customer names"

# Words that carry no request in a slot answer ("it's 1003", "my email is bob@example.com").
_FILLER_WORDS = frozenset(
    "a an and at is it it's its my the this that's thats here order number no nr num email"
    " e-mail mail phone mobile cell yes yeah ok okay sure please thanks thank you".split()
)
_IDENTIFIER_TOKEN = re.compile(r"\S*[\d@]\S*")
_WORD = re.compile(r"[a-z][a-z'-]*")


def is_slot_answer(text: str, attributes: Attributes) -> bool:
    """Whether ``text`` only supplies identifiers (see the module doc, rule 3)."""
    if not (attributes.order_number or attributes.email or attributes.phone):
        return False
    rest = _IDENTIFIER_TOKEN.sub(" ", text.lower())
    words = [word for word in _WORD.findall(rest) if word not in _FILLER_WORDS]
    return len(words) < SLOT_ANSWER_WORDS


def understanding_schema(intents: Sequence[str], products: Sequence[Product]) -> dict[str, Any]:
    """The strict JSON schema of one answer: every property required, absent values null."""
    nullable: dict[str, Any] = {"type": ["string", "null"]}
    product: dict[str, Any] = dict(nullable)
    if len(products) <= MAX_LISTED_PRODUCTS:
        product["enum"] = [*(p.sku for p in products), None]
    properties = {
        "intent": {"type": "string", "enum": [*intents, UNKNOWN_INTENT]},
        "order_number": nullable,
        "email": nullable,
        "phone": nullable,
        "product": product,
        "problem": nullable,
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def understanding_system_prompt(intents: Mapping[str, str], products: Sequence[Product]) -> str:
    """The system prompt: the task, the intents with their descriptions, the catalog (when
    small enough to list) and the rule that the customer's text is data."""
    listed = len(products) <= MAX_LISTED_PRODUCTS
    catalog = ""
    if listed and products:
        catalog = "\nCatalog (SKU: name):\n" + "\n".join(f"- {p.sku}: {p.name}" for p in products)
    return _SYSTEM_PROMPT.format(
        product_rule=_PRODUCT_RULE_LISTED if listed else _PRODUCT_RULE_NAMED,
        problem_words=_MAX_PROBLEM_WORDS,
        intents="\n".join(f"- {name}: {description}" for name, description in intents.items()),
        catalog=catalog,
        data_rule=data_rule(CUSTOMER_MESSAGE),
    )


class CascadeUnderstander:
    """A :class:`~core.ports.MessageUnderstander` that asks the model only what the local
    pipeline is unsure of (rules in the module doc), and never raises for a model failure.

    ``intents`` maps each known intent to its one-line description (from the training data);
    ``products`` is the catalog a product must resolve to; ``threshold`` the local confidence
    from which the local verdict stands alone; ``deadline_seconds`` bounds each model call,
    retries included.
    """

    def __init__(
        self,
        local: Understander,
        client: LLMClient,
        *,
        intents: Mapping[str, str],
        products: Sequence[Product],
        threshold: float,
        deadline_seconds: float,
    ) -> None:
        if not intents:
            raise ValueError("intents must name at least one intent")
        if deadline_seconds <= 0:
            raise ValueError("deadline_seconds must be positive")
        self._local = local
        self._client = client
        self._intents = dict(intents)
        self._catalog = CatalogIndex(products)
        self._threshold = threshold
        self._deadline = deadline_seconds
        self._system = understanding_system_prompt(self._intents, products)
        self._schema = understanding_schema(list(self._intents), products)

    async def understand(self, text: str) -> Understanding:
        """The local understanding, improved by the model when the local pipeline is unsure."""
        local = await self._local.understand(text)
        if not self.needs_model(text, local):
            return local
        shown = mask_personal(text)
        call, response = await self._ask(shown)
        if response is None or response.data is None:
            return replace(local, model_calls=(*local.model_calls, call))
        reading = read_answer(
            response.data,
            original=text,
            shown=shown,
            intents=self._intents,
            catalog=self._catalog,
        )
        if reading.dropped:
            log.info("model understanding: dropped invalid %s", ", ".join(reading.dropped))
        merged = await self._merge(text, local, reading)
        return replace(merged, model_calls=(*local.model_calls, call))

    def needs_model(self, text: str, local: Understanding) -> bool:
        """Whether the model is asked about ``text`` given the local result (module doc)."""
        if not text.strip():
            return False
        classification = local.classification
        if classification.intent is not None and classification.confidence >= self._threshold:
            return False
        return not is_slot_answer(text, local.attributes)

    async def _ask(self, shown: str) -> tuple[ModelCall, LLMResponse | None]:
        """One structured call; the call as recorded, and the response unless it failed."""
        circuit_was_open = self._client.breaker(PURPOSE).state == "open"
        started = time.perf_counter()
        try:
            response = await self._client.structured(
                purpose=PURPOSE,
                system=self._system,
                messages=[ChatMessage("user", as_data(CUSTOMER_MESSAGE, shown))],
                schema_name=SCHEMA_NAME,
                schema=self._schema,
                deadline_seconds=self._deadline,
            )
        except LLMError as error:
            elapsed_ms = (time.perf_counter() - started) * 1000
            outcome = outcome_of(error)
            if circuit_was_open and outcome == "unavailable":
                outcome = "circuit_open"
            log.info("model understanding unavailable (%s); the local result stands", outcome)
            return ModelCall(PURPOSE, self._client.model, 0, 0, elapsed_ms, outcome), None
        call = ModelCall(
            PURPOSE,
            response.model,
            response.tokens_in,
            response.tokens_out,
            response.latency_seconds * 1000,
            "ok",
        )
        return call, response

    async def _merge(self, text: str, local: Understanding, reading: ModelReading) -> Understanding:
        """The local understanding with the model's intent and its gaps filled (module doc)."""
        classification = local.classification
        if reading.intent_given:
            classification = Classification(
                reading.intent, classification.confidence, classification.ranking
            )
        attributes = local.attributes
        if classification.intent != local.classification.intent:
            attributes = await self._local.extractor.extract(
                text, local.spelling.text, classification.intent
            )
        model_found = reading.attributes
        if classification.intent != TECH_SUPPORT_INTENT:
            model_found = replace(model_found, problem=None)
        return replace(
            local,
            classification=classification,
            attributes=model_found.merged(attributes),
        )
