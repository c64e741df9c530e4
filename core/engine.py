"""The conversation engine: one turn, the same way for every channel.

The engine is a thin orchestrator. It serialises the turns of one conversation, runs the NLU
stages, lets the dialogue policy choose a move, runs the chosen skill, stores the session with an
optimistic version check, logs both directions, and decides — in one place — what the user is
told when something fails.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from core.dialogue import Move, decide
from core.errors import ConcurrentUpdate, CRMError
from core.options import pick_option
from core.ports import ConversationStore, HandoffRecord, TurnObserver, TurnRecord
from core.privacy import redact_attributes, redact_text
from core.session import Session
from core.skills import Request, Skills, Turn
from core.text import clean_text
from core.types import (
    Attributes,
    Classification,
    InboundMessage,
    Outcome,
    SpellResult,
    TurnResult,
    Understanding,
    utcnow,
)
from core.understanding import Understander

__all__ = ["Engine", "EngineOptions"]

log = logging.getLogger(__name__)

_SAVE_ATTEMPTS = 6  # optimistic retries when another worker saved the same conversation


class _NoObserver:
    def observe_turn(self, channel: str, intent: str | None, outcome: str, seconds: float) -> None:
        pass

    def count_fallback(self, stage: str) -> None:
        pass

    def count_handoff(self, channel: str, reason: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class EngineOptions:
    max_clarifications: int = 2
    max_text_chars: int = 2000
    redact_personal_data: bool = True


class _ConversationLocks:
    """One asyncio lock per conversation, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Engine:
    """Handles inbound messages from any channel and returns what to say back."""

    def __init__(
        self,
        *,
        understander: Understander,
        skills: Skills,
        store: ConversationStore,
        options: EngineOptions | None = None,
        observer: TurnObserver | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._understander = understander
        self._skills = skills
        self._store = store
        self._options = options or EngineOptions()
        self._observer: TurnObserver = observer or _NoObserver()
        self._clock = clock
        self._locks = _ConversationLocks()

    async def understand(self, text: str) -> Understanding:
        """Run the NLU stages on ``text`` without touching any conversation."""
        return await self._understander.understand(self._clean(text))

    async def handle(self, message: InboundMessage) -> TurnResult:
        """Process one message. User input never raises; a storage outage raises StorageError."""
        started = time.perf_counter()
        text = self._clean(message.text)
        async with self._locks.hold((message.channel, message.user_id)):
            session = await self._open_session(message)
            text = pick_option(text, session.offered)
            understanding = await self._understand_safely(text)
            await self._log_inbound(session, message, text, understanding)
            turn = await self._respond(session, message, text, understanding)
        seconds = time.perf_counter() - started
        await self._finish(message, turn, understanding, seconds)
        return TurnResult(
            conversation_id=turn.session.conversation_id,
            replies=turn.replies,
            state=str(turn.state),
            outcome=turn.outcome,
            understanding=understanding,
        )

    # -- steps --------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return clean_text(text)[: self._options.max_text_chars]

    async def _open_session(self, message: InboundMessage) -> Session:
        session = await self._store.load_session(message.channel, message.user_id)
        if session.version > 0:
            return session
        try:
            return await self._store.save_session(session)
        except ConcurrentUpdate:  # another worker created it first: use theirs
            return await self._store.load_session(message.channel, message.user_id)

    async def _understand_safely(self, text: str) -> Understanding:
        if not text:
            return Understanding(SpellResult(""), Classification(None, 0.0), Attributes())
        try:
            return await self._understander.understand(text)
        except Exception:  # a broken stage must not silence the bot: treat as not understood
            log.exception("understanding failed")
            self._observer.count_fallback("nlu")
            return Understanding(SpellResult(text), Classification(None, 0.0), Attributes())

    async def _respond(
        self, session: Session, message: InboundMessage, text: str, understanding: Understanding
    ) -> Turn:
        """Choose and run the move, storing the session; on a version conflict reload and redo."""
        for _ in range(_SAVE_ATTEMPTS - 1):
            turn = _remember_options(await self._turn(session, message, text, understanding))
            try:
                return replace(turn, session=await self._store.save_session(turn.session))
            except ConcurrentUpdate:
                await asyncio.sleep(random.uniform(0, 0.005))  # de-synchronise the contenders
                session = await self._store.load_session(message.channel, message.user_id)
        turn = _remember_options(await self._turn(session, message, text, understanding))
        return replace(turn, session=await self._store.save_session(turn.session))

    async def _turn(
        self, session: Session, message: InboundMessage, text: str, understanding: Understanding
    ) -> Turn:
        skills = self._skills
        if not text:
            return skills.with_topics(session, "empty", Outcome.AWAITING_INPUT)
        intent = skills.responses.topic_intent(text) or understanding.classification.intent
        step = decide(
            session,
            intent,
            understanding.attributes,
            max_clarifications=self._options.max_clarifications,
        )
        if step.move is Move.CLARIFY:
            self._observer.count_fallback("clarify")
            template = "clarify" if step.session.clarify_count <= 1 else "clarify_again"
            return skills.with_topics(step.session, template, Outcome.CLARIFIED)
        if step.move is Move.HANDOFF:
            return skills.handoff(step.session, reason="not_understood")
        if step.move is Move.STILL_HANDED_OFF:
            return skills.say(step.session, "handoff_pending", Outcome.HANDOFF)
        request = Request(
            session=step.session,
            text=understanding.spelling.text or text,
            found=understanding.attributes,
            identity=message.verified_identity,
            now=self._clock(),
        )
        try:
            return await skills.run(step.intent or "", request)
        except CRMError:
            log.warning("shop backend failed during %s", step.intent, exc_info=True)
            self._observer.count_fallback("crm")
            return skills.say(session, "error", Outcome.ERROR)
        except Exception:  # a bug in a skill: the user gets an apology, the log the traceback
            log.exception("skill %s failed", step.intent)
            self._observer.count_fallback("skill")
            return skills.say(session, "error", Outcome.ERROR)

    # -- logging --------------------------------------------------------------------------------
    def _private(self, text: str) -> str:
        return redact_text(text) if self._options.redact_personal_data else text

    async def _log_inbound(
        self, session: Session, message: InboundMessage, text: str, understanding: Understanding
    ) -> None:
        attributes = understanding.attributes.as_dict()
        if self._options.redact_personal_data:
            attributes = redact_attributes(attributes)
        classification = understanding.classification
        await self._store.log_turn(
            TurnRecord(
                conversation_id=session.conversation_id,
                channel=message.channel,
                user_id=message.user_id,
                direction="in",
                text=self._private(text),
                corrected_text=self._private(understanding.spelling.text),
                intent=classification.intent,
                confidence=classification.confidence,
                attributes=attributes,
                message_id=message.message_id,
                created_at=message.received_at,
            )
        )

    async def _finish(
        self, message: InboundMessage, turn: Turn, understanding: Understanding, seconds: float
    ) -> None:
        session = turn.session
        for reply in turn.replies:
            await self._store.log_turn(
                TurnRecord(
                    conversation_id=session.conversation_id,
                    channel=message.channel,
                    user_id=message.user_id,
                    direction="out",
                    text=self._private(reply.text),
                    state=str(turn.state),
                    outcome=str(turn.outcome),
                    latency_ms=seconds * 1000,
                )
            )
        if turn.handoff_reason is not None:
            await self._store.record_handoff(
                HandoffRecord(
                    conversation_id=session.conversation_id,
                    channel=message.channel,
                    user_id=message.user_id,
                    reason=turn.handoff_reason,
                    last_message=self._private(self._clean(message.text)),
                )
            )
            self._observer.count_handoff(message.channel, turn.handoff_reason)
        intent = understanding.classification.intent
        self._observer.observe_turn(message.channel, intent, str(turn.outcome), seconds)


def _remember_options(turn: Turn) -> Turn:
    offered = turn.replies[-1].quick_replies if turn.replies else ()
    return replace(turn, session=replace(turn.session, offered=offered))
