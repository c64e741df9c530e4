"""Per-conversation dialogue state, stored between turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.types import Attributes

__all__ = ["DialogueState", "Session"]


class DialogueState(StrEnum):
    """Where a conversation stands after a turn (the API's ``state``)."""

    ANSWERED = "answered"
    AWAITING_INPUT = "awaiting_input"
    CLARIFYING = "clarifying"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class Session:
    """The state of one conversation, keyed by (channel, user_id). Immutable: use ``replace``.

    ``version`` is the stored row version (0 = never stored); the store refuses a save
    whose version is stale, so concurrent turns cannot lose an update.
    ``verified_customer`` is the id of the one customer this conversation proved to be, and
    ``verified_at`` when it last used that proof (it expires after a quiet spell).
    ``offered`` are the quick replies of the last answer, so that "2" can pick the second.
    """

    conversation_id: str
    channel: str
    user_id: str
    state: DialogueState = DialogueState.ANSWERED
    intent: str | None = None
    slots: Attributes = field(default_factory=Attributes)
    awaiting: str | None = None
    clarify_count: int = 0
    verified_customer: str | None = None
    verified_at: datetime | None = None
    failed_verifications: int = 0
    locked_until: datetime | None = None
    offered: tuple[str, ...] = ()
    version: int = 0
