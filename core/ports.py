"""The interfaces the engine depends on; channels, CRM adapters and stages implement them.

Every stage is one small object with one async method, so that a local implementation and a
model-backed one (later: GPT) are interchangeable through the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.session import Session
from core.shop import HelpArticle, Order, Product, ReturnPolicy
from core.types import (
    Attributes,
    Classification,
    ModelCall,
    Reply,
    SpellResult,
    Understanding,
    utcnow,
)

__all__ = [
    "ArticleSearch",
    "AttributeExtractor",
    "ConversationStore",
    "HandoffRecord",
    "IntentClassifier",
    "MessageUnderstander",
    "Phrased",
    "PhrasingRequest",
    "ReplyPhraser",
    "ShopBackend",
    "SpellCorrector",
    "TurnObserver",
    "TurnRecord",
]


class SpellCorrector(Protocol):
    """Corrects typos without touching protected tokens (numbers, emails, catalog words...)."""

    async def correct(self, text: str) -> SpellResult: ...


class IntentClassifier(Protocol):
    """Maps a (corrected) message to one of the known intents, or ``None`` when unsure."""

    @property
    def intents(self) -> Sequence[str]: ...

    async def classify(self, text: str) -> Classification: ...


class AttributeExtractor(Protocol):
    """Finds order numbers, emails, phones, catalog products and problem topics in a message.

    ``original`` is the text as the user typed it, ``corrected`` after spelling correction.
    """

    async def extract(self, original: str, corrected: str, intent: str | None) -> Attributes: ...


class MessageUnderstander(Protocol):
    """All the NLU of one message: spelling, intent and attributes (``core.understanding``'s
    local pipeline, or a cascade that asks a model when the local one is unsure)."""

    async def understand(self, text: str) -> Understanding: ...


@dataclass(frozen=True, slots=True)
class PhrasingRequest:
    """An answer the skills produced from retrieved facts, to be phrased for the customer.

    ``replies`` are the template replies: every fact in them came from the shop's backend, and
    a phrased reply may state no fact they do not. ``history`` is the conversation so far, oldest
    first, as ``(role, text)`` with role ``"user"`` or ``"assistant"`` (redacted as logged).
    ``article_title`` names the help article a technical answer is grounded on.
    """

    user_text: str
    intent: str
    replies: tuple[Reply, ...]
    history: tuple[tuple[str, str], ...] = ()
    article_title: str | None = None


@dataclass(frozen=True, slots=True)
class Phrased:
    """The replies to send (the template replies when phrasing failed or was refused) and the
    model calls it took."""

    replies: tuple[Reply, ...]
    model_calls: tuple[ModelCall, ...] = ()
    used_model: bool = False


class ReplyPhraser(Protocol):
    """Phrases fact-grounded answers (GPT when configured); never raises for a model failure."""

    async def phrase(self, request: PhrasingRequest) -> Phrased: ...


class ArticleSearch(Protocol):
    """Ranks help articles for a technical question."""

    async def best(self, query: str, product_sku: str | None = None) -> HelpArticle | None: ...


@runtime_checkable
class ShopBackend(Protocol):
    """A shop's backend as the engine sees it. Adapters only fetch; access checks live in core."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def get_order(self, number: str) -> Order | None:
        """The order with this bare number ("1001"), or ``None``. Raises ``CRMUnavailable``."""
        ...

    async def list_products(self) -> Sequence[Product]: ...

    async def get_product(self, sku: str) -> Product | None: ...

    async def get_return_policy(self) -> ReturnPolicy: ...

    async def list_articles(self) -> Sequence[HelpArticle]: ...


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One logged message, inbound (``direction="in"``) or outbound (``"out"``).

    Personal data has already been redacted by the engine when the settings ask for it.
    ``message_id`` is the platform's id of an inbound message (used to process it only once) or
    the id the engine gave an outbound reply (used for feedback). ``feedback`` is the customer's
    "up" / "down" on a reply.
    """

    conversation_id: str
    channel: str
    user_id: str
    direction: str
    text: str
    corrected_text: str | None = None
    intent: str | None = None
    confidence: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    state: str | None = None
    outcome: str | None = None
    latency_ms: float | None = None
    message_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    quick_replies: tuple[str, ...] = ()
    feedback: str | None = None
    model_calls: tuple[ModelCall, ...] = ()


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    """A conversation handed to human staff, with why and what the user last said."""

    conversation_id: str
    channel: str
    user_id: str
    reason: str
    last_message: str
    created_at: datetime = field(default_factory=utcnow)


class ConversationStore(Protocol):
    """Sessions, the turn log and handoffs, in one SQL database."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def load_session(self, channel: str, user_id: str) -> Session:
        """The session for this channel user, created (version 0, not yet stored) if new."""
        ...

    async def commit_turn(
        self,
        session: Session,
        records: Sequence[TurnRecord] = (),
        handoff_records: Sequence[HandoffRecord] = (),
    ) -> Session:
        """Store ``session`` if its row still has ``session.version`` and append the turn's log
        records, atomically (all or nothing); returns the session with version + 1.

        Raises ``ConcurrentUpdate`` when another writer saved in between.
        """
        ...

    async def replies_to(self, conversation_id: str, message_id: str) -> list[TurnRecord] | None:
        """The logged replies to the inbound message ``message_id``, or ``None`` if it was never
        processed (how a redelivered message is answered without being processed twice)."""
        ...

    async def turns(self, conversation_id: str, *, last: int | None = None) -> list[TurnRecord]:
        """The logged messages of a conversation, oldest first (the ``last`` ones if given)."""
        ...


class TurnObserver(Protocol):
    """Receives what happened in each turn (the metrics implement it)."""

    def observe_turn(
        self, channel: str, intent: str | None, outcome: str, seconds: float
    ) -> None: ...

    def count_fallback(self, stage: str) -> None: ...

    def count_handoff(self, channel: str, reason: str) -> None: ...
