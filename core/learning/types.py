"""The values the learning loop's steps exchange."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Candidate", "Example", "Provenance"]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a candidate came from: the conversation, the failed customer messages (turn log
    ids) and the successful one it was labelled from, and when they were written."""

    conversation_id: str
    failed_turn_ids: tuple[int, ...]
    success_turn_id: int
    failed_at: datetime
    succeeded_at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A customer message the bot failed on, labelled with the intent of the rephrasing that
    then succeeded. ``text`` has numbers, emails, phones and names replaced by placeholders;
    ``score`` (0..1) is how likely it is a good example; ``status`` is ``pending``,
    ``accepted`` or ``rejected``."""

    id: int
    text: str
    intent: str
    score: float
    status: str
    provenance: Provenance
    created_at: datetime
    reviewed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """A training example: placeholder-redacted text and its intent."""

    text: str
    intent: str
