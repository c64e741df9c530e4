"""The small immutable values that channels, the engine and the stages exchange."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum

__all__ = [
    "Attributes",
    "Classification",
    "Correction",
    "Identity",
    "InboundMessage",
    "IntentScore",
    "ModelCall",
    "Outcome",
    "Reply",
    "SpellResult",
    "TurnResult",
    "Understanding",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only clock the project uses)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Identity:
    """An identity a channel has verified itself, e.g. the phone number an SMS came from.

    ``kind`` is ``"phone"`` or ``"email"`` (``value`` normalised: E.164 phone, lower-case email),
    or ``"staff"`` for the shop's own staff on a staff channel (``value`` names the staff member;
    see ``core.verification``). Only a channel sets it, from what the platform proves.
    """

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One user message, translated by a channel from its platform's payload."""

    channel: str
    user_id: str
    text: str
    message_id: str | None = None
    verified_identity: Identity | None = None
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Reply:
    """One message back to the user; quick replies are suggestions shown as buttons or numbers."""

    text: str
    quick_replies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction: ``original`` at character ``start`` of the input became ``corrected``."""

    original: str
    corrected: str
    start: int


@dataclass(frozen=True, slots=True)
class SpellResult:
    """The corrected text and the corrections made (empty when nothing changed)."""

    text: str
    corrections: tuple[Correction, ...] = ()


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict; ``intent`` is ``None`` when below the confidence threshold."""

    intent: str | None
    confidence: float
    ranking: tuple[IntentScore, ...] = ()


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a message says about the request. ``product`` is a catalog SKU, never free text."""

    order_number: str | None = None
    email: str | None = None
    phone: str | None = None
    product: str | None = None
    problem: str | None = None

    def merged(self, newer: Attributes) -> Attributes:
        """These attributes updated with every value ``newer`` has."""
        changes = {f.name: getattr(newer, f.name) for f in fields(newer) if getattr(newer, f.name)}
        return replace(self, **changes)

    def as_dict(self) -> dict[str, str]:
        """The attributes that are set, by name."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One language-model call a turn made, as stored with the turn: what it was for, the
    model, its cost in tokens, how long it took and how it ended (``ok``, ``unavailable``...)."""

    purpose: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    outcome: str


@dataclass(frozen=True, slots=True)
class Understanding:
    """Everything the NLU stages found in one message (and the model calls it took)."""

    spelling: SpellResult
    classification: Classification
    attributes: Attributes
    model_calls: tuple[ModelCall, ...] = ()


class Outcome(StrEnum):
    """How a turn ended, as logged."""

    ANSWERED = "answered"
    AWAITING_INPUT = "awaiting_input"
    CLARIFIED = "clarified"
    HANDOFF = "handoff"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What the engine did with one inbound message."""

    conversation_id: str
    replies: tuple[Reply, ...]
    state: str
    outcome: Outcome
    understanding: Understanding
    reply_ids: tuple[str, ...] = ()  # one per reply: what feedback refers to
    replayed: bool = False  # the message had been processed before; these are the stored replies
    awaiting: str | None = None
    """What the bot is asking for (``"email"``, ``"order_number"``), so a channel can offer a
    shortcut such as Telegram's "share my phone number"."""
