"""Channels translate a platform's messages into :class:`~core.types.InboundMessage` and back.

They hold no business logic and no conversation state: everything goes through the engine's
entry points, described by :class:`ChatEngine`.
"""

from __future__ import annotations

from typing import Protocol

from core.types import InboundMessage, TurnResult, Understanding

__all__ = ["ChatEngine"]


class ChatEngine(Protocol):
    """What a channel needs from the conversation engine."""

    async def handle(self, message: InboundMessage) -> TurnResult:
        """Run one turn of the message's conversation; never raises for bad user input."""
        ...

    async def understand(self, text: str) -> Understanding:
        """Spelling, intent and attributes of ``text`` without touching any conversation."""
        ...

    async def previous_answer(self, message: InboundMessage) -> TurnResult | None:
        """The answer already given to this ``message_id``, or ``None``; processes nothing."""
        ...
