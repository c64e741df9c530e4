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
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from core.dialogue import Move, decide
from core.errors import ConcurrentUpdate, CRMError
from core.options import pick_option
from core.ports import (
    ConversationStore,
    MessageUnderstander,
    PhrasingRequest,
    ReplyPhraser,
    TurnObserver,
    TurnRecord,
)
from core.session import DialogueState, Session
from core.skills import Request, Skills, Turn
from core.text import clean_text
from core.turnlog import TurnLog
from core.types import (
    Attributes,
    Classification,
    InboundMessage,
    ModelCall,
    Outcome,
    Reply,
    SpellResult,
    TurnResult,
    Understanding,
    utcnow,
)
from core.verification import STAFF

__all__ = ["Engine", "EngineOptions", "Phrasing"]

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
class Phrasing:
    """Model phrasing of fact-grounded answers: the phraser, which answers it is worth a call
    for (``wants``), and how many logged messages of the conversation it sees."""

    phraser: ReplyPhraser
    wants: Callable[[PhrasingRequest], bool]
    history_messages: int = 6


@dataclass(frozen=True, slots=True)
class EngineOptions:
    max_clarifications: int = 2
    max_text_chars: int = 2000
    redact_personal_data: bool = True
    session_cache_size: int = 10_000


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


class _SessionCache:
    """The sessions this process stored last, most recent first, so a turn needs no read.

    A cached session may be stale when another worker wrote the conversation since; the version
    check of the next save catches that, and the engine then reloads and redoes the turn.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Session | None:
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
        return session

    def put(self, key: tuple[str, str], session: Session) -> None:
        if self._size <= 0:
            return
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        if len(self._sessions) > self._size:
            self._sessions.popitem(last=False)

    def pop(self, key: tuple[str, str]) -> None:
        self._sessions.pop(key, None)


class Engine:
    """Handles inbound messages from any channel and returns what to say back."""

    def __init__(
        self,
        *,
        understander: MessageUnderstander,
        skills: Skills,
        store: ConversationStore,
        options: EngineOptions | None = None,
        observer: TurnObserver | None = None,
        clock: Callable[[], datetime] = utcnow,
        phrasing: Phrasing | None = None,
    ) -> None:
        self._understander = understander
        self._phrasing = phrasing
        self._skills = skills
        self._store = store
        self._options = options or EngineOptions()
        self._observer: TurnObserver = observer or _NoObserver()
        self._clock = clock
        self._locks = _ConversationLocks()
        self._sessions = _SessionCache(self._options.session_cache_size)

    async def understand(self, text: str) -> Understanding:
        """Run the NLU stages on ``text`` without touching any conversation."""
        return await self._understander.understand(self._clean(text))

    async def handle(self, message: InboundMessage) -> TurnResult:
        """Process one message. User input never raises; a storage outage raises StorageError."""
        started = time.perf_counter()
        key = (message.channel, message.user_id)
        async with self._locks.hold(key):
            session = self._sessions.get(key) or await self._store.load_session(*key)
            if (earlier := await self._earlier_answer(session, message)) is not None:
                return earlier  # a redelivery: answer as before, process nothing
            typed = self._clean(message.text)
            text = pick_option(typed, session.offered)  # "2": option 2
            understanding = await self._understand_safely(text)
            turn, reply_ids = await self._respond(
                session, message, typed, text, understanding, started
            )
        self._observe(message, turn, understanding, time.perf_counter() - started)
        return TurnResult(
            conversation_id=turn.session.conversation_id,
            replies=turn.replies,
            state=str(turn.state),
            outcome=turn.outcome,
            understanding=understanding,
            reply_ids=reply_ids,
            awaiting=turn.session.awaiting,
        )

    async def previous_answer(self, message: InboundMessage) -> TurnResult | None:
        """The answer already given to this message (same channel, user and ``message_id``),
        or ``None`` when it was never processed. Reads only; processes nothing."""
        key = (message.channel, message.user_id)
        session = self._sessions.get(key) or await self._store.load_session(*key)
        return await self._earlier_answer(session, message)

    async def _earlier_answer(self, session: Session, message: InboundMessage) -> TurnResult | None:
        if message.message_id is None or session.version == 0:
            return None
        earlier = await self._store.replies_to(session.conversation_id, message.message_id)
        return None if earlier is None else _replayed(session, message, earlier)

    # -- steps --------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return clean_text(text)[: self._options.max_text_chars]

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
        self,
        session: Session,
        message: InboundMessage,
        typed: str,
        text: str,
        understanding: Understanding,
        started: float,
    ) -> tuple[Turn, tuple[str, ...]]:
        """Choose and run the move, then store session and log in one atomic write; returns
        the turn and the ids given to its replies. ``typed`` is the message cleaned, ``text``
        the same with an option number resolved.

        When another worker stored the conversation in between, reload it and redo the turn.
        """
        key = (message.channel, message.user_id)
        phrased: dict[tuple[Reply, ...], tuple[Turn, tuple[ModelCall, ...]]] = {}
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            turn = _settled(await self._turn(session, message, text, understanding))
            if turn.replies not in phrased:  # a retried save with the same answer: no new call
                phrased[turn.replies] = await self._phrase(session, message, turn, text)
            done, phrase_calls = phrased[turn.replies]
            turn = replace(turn, replies=done.replies)
            log = TurnLog(
                message,
                typed,
                text,
                understanding,
                started,
                redact=self._options.redact_personal_data,
                phrase_calls=phrase_calls,
            )
            records = log.records(session, turn)
            try:
                saved = await self._store.commit_turn(turn.session, records, log.handoffs(turn))
            except ConcurrentUpdate:
                self._sessions.pop(key)
                if attempt == _SAVE_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005))  # de-synchronise the contenders
                session = await self._store.load_session(*key)
                continue
            self._sessions.put(key, saved)
            reply_ids = tuple(r.message_id or "" for r in records if r.direction == "out")
            return replace(turn, session=saved), reply_ids
        raise AssertionError("unreachable")

    async def _turn(
        self, session: Session, message: InboundMessage, text: str, understanding: Understanding
    ) -> Turn:
        skills = self._skills
        if not text:
            waiting = replace(session, state=DialogueState.AWAITING_INPUT)
            return skills.with_topics(waiting, "empty", Outcome.AWAITING_INPUT)
        intent = skills.responses.topic_intent(text) or understanding.classification.intent
        step = decide(
            session,
            intent,
            understanding.attributes,
            max_clarifications=self._options.max_clarifications,
            text=text,
        )
        if step.move is Move.CLARIFY:
            self._observer.count_fallback("clarify")
            template = "clarify" if step.session.clarify_count <= 1 else "clarify_again"
            return skills.with_topics(step.session, template, Outcome.CLARIFIED)
        if step.move is Move.HANDOFF:
            return skills.handoff(step.session, reason=step.reason or "not_understood")
        if step.move is Move.STILL_HANDED_OFF:
            return skills.say(step.session, "handoff_pending", Outcome.HANDOFF)
        request = Request(
            session=step.session,
            text=understanding.spelling.text or text,
            found=understanding.attributes,
            identity=message.verified_identity,
            now=self._clock(),
            continued=step.continued,
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

    async def _phrase(
        self, session: Session, message: InboundMessage, turn: Turn, text: str
    ) -> tuple[Turn, tuple[ModelCall, ...]]:
        """The turn with its answer phrased by the model, when configured and worth it; the
        phraser falls back to the template replies itself when the model fails or adds facts.
        Staff answers are never phrased: they hold the customer's contact details in full."""
        phrasing = self._phrasing
        if phrasing is None or turn.outcome is not Outcome.ANSWERED or not turn.intent:
            return turn, ()
        identity = message.verified_identity
        if identity is not None and identity.kind == STAFF:
            return turn, ()
        try:
            request = PhrasingRequest(
                user_text=text,
                intent=turn.intent,
                replies=turn.replies,
                history=await self._history(session, phrasing.history_messages),
                article_title=turn.article_title,
            )
            if not phrasing.wants(request):
                return turn, ()
            phrased = await phrasing.phraser.phrase(request)
        except Exception:  # a bug in the phraser: the template answer is always right
            log.exception("phrasing failed")
            self._observer.count_fallback("phrase")
            return turn, ()
        return replace(turn, replies=phrased.replies), phrased.model_calls

    async def _history(self, session: Session, messages: int) -> tuple[tuple[str, str], ...]:
        if session.version == 0 or messages <= 0:
            return ()
        records = await self._store.turns(session.conversation_id, last=messages)
        return tuple(
            ("user" if record.direction == "in" else "assistant", record.text) for record in records
        )

    def _observe(
        self, message: InboundMessage, turn: Turn, understanding: Understanding, seconds: float
    ) -> None:
        if turn.handoff_reason is not None:
            self._observer.count_handoff(message.channel, turn.handoff_reason)
        self._observer.observe_turn(message.channel, turn.intent, str(turn.outcome), seconds)


def _replayed(session: Session, message: InboundMessage, earlier: list[TurnRecord]) -> TurnResult:
    """The stored answer to a message processed before (as logged, so possibly redacted)."""
    last = earlier[-1] if earlier else None
    return TurnResult(
        conversation_id=session.conversation_id,
        replies=tuple(Reply(r.text, r.quick_replies) for r in earlier),
        state=(last.state if last and last.state else str(session.state)),
        outcome=Outcome(last.outcome) if last and last.outcome else Outcome.ANSWERED,
        understanding=Understanding(
            SpellResult(message.text), Classification(None, 0.0), Attributes()
        ),
        reply_ids=tuple(r.message_id or "" for r in earlier),
        replayed=True,
    )


def _settled(turn: Turn) -> Turn:
    """The session as stored: the options just offered (so "2" can pick one), and no email or
    phone number unless the bot is waiting to check them against an order.
    """
    session = turn.session
    offered = turn.replies[-1].quick_replies if turn.replies else ()
    slots = session.slots
    if session.awaiting not in ("email", "order_number"):
        slots = replace(slots, email=None, phone=None)
    return replace(turn, session=replace(session, offered=offered, slots=slots))
