"""The turn log rows of one turn, personal data redacted when the settings ask for it."""

from __future__ import annotations

import time
import uuid

from core.ports import HandoffRecord, TurnRecord
from core.privacy import redact_attributes, redact_text
from core.session import Session
from core.skills import Turn
from core.types import InboundMessage, ModelCall, Understanding

__all__ = ["TurnLog"]


def _unchanged(text: str) -> str:
    return text


class TurnLog:
    """The log rows of one turn: the inbound message with what was understood, each reply with
    the outcome, and the handoff if there was one — personal data redacted when configured.
    """

    def __init__(
        self,
        message: InboundMessage,
        typed: str,
        text: str,
        understanding: Understanding,
        started: float,
        *,
        redact: bool,
        phrase_calls: tuple[ModelCall, ...] = (),
    ) -> None:
        """``typed`` is the message as typed (cleaned), ``text`` as understood (an option
        number resolved); ``started`` the turn's ``time.perf_counter()`` at its start."""
        self._private = redact_text if redact else _unchanged
        self._model_calls = understanding.model_calls + phrase_calls
        self._typed = typed
        self._redact = redact
        self._message = message
        self._text = text
        self._understanding = understanding
        self._latency_ms = (time.perf_counter() - started) * 1000

    def records(self, before: Session, turn: Turn) -> list[TurnRecord]:
        """The turn's log rows: the inbound message, then each reply."""
        message, understanding = self._message, self._understanding
        attributes = understanding.attributes.as_dict()
        if self._redact:
            attributes = redact_attributes(attributes)
        conversation_id = before.conversation_id
        inbound = TurnRecord(
            conversation_id=conversation_id,
            channel=message.channel,
            user_id=message.user_id,
            direction="in",
            text=self._private(self._typed),  # as typed, even a bare "2"
            corrected_text=self._private(understanding.spelling.text),
            intent=understanding.classification.intent,
            confidence=understanding.classification.confidence,
            attributes=attributes,
            message_id=message.message_id,
            created_at=message.received_at,
            model_calls=self._model_calls,
        )
        replies = [
            TurnRecord(
                conversation_id=conversation_id,
                channel=message.channel,
                user_id=message.user_id,
                direction="out",
                text=self._private(reply.text),
                message_id=uuid.uuid4().hex,
                quick_replies=reply.quick_replies,
                state=str(turn.state),
                outcome=str(turn.outcome),
                latency_ms=self._latency_ms,
            )
            for reply in turn.replies
        ]
        return [inbound, *replies]

    def handoffs(self, turn: Turn) -> list[HandoffRecord]:
        """The handoff record, when the turn handed the conversation to a person."""
        if turn.handoff_reason is None:
            return []
        message = self._message
        return [
            HandoffRecord(
                conversation_id=turn.session.conversation_id,
                channel=message.channel,
                user_id=message.user_id,
                reason=turn.handoff_reason,
                last_message=self._private(self._text),
            )
        ]
