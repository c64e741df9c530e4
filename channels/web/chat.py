"""What the website chat does with each client message, shared by the WebSocket and HTTP routes.

Each operation takes the decoded JSON object of one client message and returns the JSON object
to answer with, or raises :class:`WebError` (rendered as the protocol's ``error`` message, with
an HTTP status for the fallback routes). See docs/web-widget-protocol.md.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from channels import ChatEngine
from channels.web.limits import WebRateLimits
from channels.web.tokens import ConversationTokens, IdentityVerifier
from core.ports import TurnRecord
from core.session import Session
from core.text import clean_text, has_control_characters
from core.types import Identity, InboundMessage, TurnResult, utcnow

__all__ = [
    "CHANNEL",
    "HISTORY_LIMIT",
    "Json",
    "WebChat",
    "WebError",
    "WebOptions",
    "WebStore",
    "bad_request",
    "error_message",
]

CHANNEL = "web"
HISTORY_LIMIT = 200  # most recent entries a welcome carries; keeps it small for long chats
_MAX_ID_CHARS = 128

Json = dict[str, Any]


class WebStore(Protocol):
    """What the web channel reads and writes in the conversation store."""

    async def load_session(self, channel: str, user_id: str) -> Session: ...

    async def turns(self, conversation_id: str) -> list[TurnRecord]: ...

    async def set_feedback(self, conversation_id: str, reply_id: str, rating: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class WebOptions:
    """Limits and origins of the web channel (from ``web.*`` and ``server.*`` settings)."""

    allowed_origins: tuple[str, ...] = ()
    max_text_chars: int = 2000
    max_body_bytes: int = 65536
    max_sockets_per_ip: int = 20
    trust_proxy_headers: bool = False


class WebError(Exception):
    """A client message the chat refuses; ``message`` is written for the customer."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> Json:
        """The protocol's ``error`` message."""
        return error_message(self.code, self.message, self.retry_after)


def error_message(code: str, message: str, retry_after: float | None = None) -> Json:
    """An ``error`` message of the protocol."""
    return {"type": "error", "code": code, "message": message, "retry_after": retry_after}


def bad_request(message: str = "That request was not understood.") -> WebError:
    """A ``bad_request`` error (HTTP 400) saying what was wrong."""
    return WebError(400, "bad_request", message)


class WebChat:
    """The operations of the chat protocol: hello, message, feedback.

    ``identities`` checks identity tokens from the shop; ``clock`` timestamps replies.
    """

    def __init__(
        self,
        engine: ChatEngine,
        store: WebStore,
        *,
        tokens: ConversationTokens,
        identities: IdentityVerifier,
        limits: WebRateLimits,
        options: WebOptions,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._store = store
        self._tokens = tokens
        self._identities = identities
        self._limits = limits
        self._options = options
        self._clock = clock

    @property
    def options(self) -> WebOptions:
        return self._options

    async def hello(self, body: Json) -> tuple[str, Json]:
        """The conversation id and the ``welcome``: the same token and its history when the
        token is valid, else a new conversation's token and no history. The history is the one
        of the identity the hello carries (see :meth:`user_id`)."""
        token = _optional_string(body, "token")
        identity = _optional_string(body, "identity")
        cid = self._tokens.verify(token) if token else None
        if cid is None or token is None:
            cid = str(uuid.uuid4())
            return cid, {"type": "welcome", "token": self._tokens.issue_for(cid), "history": []}
        history = await self._history(self.user_id(cid, identity))
        return cid, {"type": "welcome", "token": token, "history": history}

    def user_id(self, cid: str, identity_token: str | None) -> str:
        """The engine's user id: the browser's conversation, kept apart per verified customer.

        A logged-in customer's chat (valid identity token) is a different conversation from
        the same browser's anonymous one, so logging out, or another customer logging in on the
        same computer, never continues a conversation verified for someone else.
        """
        return _user_id(cid, self._identities.verify(identity_token))

    def count_hello(self, ip: str) -> None:
        """Count a (re)connection against the client IP's limit; raises ``rate_limited``."""
        wait = self._limits.acquire_connection(ip)
        if wait is not None:
            message = f"Too many connections. Please wait {int(wait)} s and try again."
            raise WebError(429, "rate_limited", message, wait)

    def conversation(self, body: Json) -> str:
        """The conversation id of the body's ``token`` (HTTP fallback routes)."""
        cid = self._tokens.verify(_optional_string(body, "token"))
        if cid is None:
            raise WebError(400, "invalid_token", "This chat has expired; please reload the page.")
        return cid

    async def message(
        self,
        cid: str,
        identity_token: str | None,
        body: Json,
        ip: str,
        typing: Callable[[], Awaitable[None]] | None = None,
    ) -> Json:
        """Run one customer message through the engine; ``typing`` is awaited once the message
        is accepted, before the engine works on it."""
        client_id = _identifier(body, "client_id")
        text = _required_string(body, "text")
        limit = self._options.max_text_chars
        if len(clean_text(text)) > limit:
            message = f"That message is too long: please keep it under {limit} characters."
            raise WebError(413, "too_long", message)
        email = self._identities.verify(identity_token)
        inbound = InboundMessage(
            channel=CHANNEL,
            user_id=_user_id(cid, email),
            text=text,
            message_id=client_id,
            verified_identity=Identity("email", email) if email else None,
        )
        wait = self._limits.acquire(cid, ip)
        if wait is not None:
            # A resend of a message already answered costs nothing: answer it again.
            if (earlier := await self._engine.previous_answer(inbound)) is not None:
                return _reply(client_id, earlier, self._clock())
            message = f"You're sending messages quickly. Please wait {int(wait)} s and try again."
            raise WebError(429, "rate_limited", message, wait)
        if typing is not None:
            await typing()
        result = await self._engine.handle(inbound)
        return _reply(client_id, result, self._clock())

    async def feedback(self, cid: str, identity_token: str | None, body: Json) -> Json:
        """Store a thumbs up or down on one of this conversation's replies."""
        reply_id = _identifier(body, "reply_id")
        rating = body.get("rating")
        if rating not in ("up", "down"):
            raise bad_request("rating must be 'up' or 'down'.")
        session = await self._store.load_session(CHANNEL, self.user_id(cid, identity_token))
        stored = session.version > 0 and await self._store.set_feedback(
            session.conversation_id, reply_id, rating
        )
        if not stored:
            raise bad_request("That answer cannot be rated.")
        return {"type": "feedback_saved", "reply_id": reply_id, "rating": rating}

    async def _history(self, user_id: str) -> list[Json]:
        session = await self._store.load_session(CHANNEL, user_id)
        if session.version == 0:  # never stored: nothing said yet
            return []
        rows = await self._store.turns(session.conversation_id)
        entries = [_history_entry(index, row) for index, row in enumerate(rows)]
        return entries[-HISTORY_LIMIT:]


def _user_id(cid: str, email: str | None) -> str:
    """See :meth:`WebChat.user_id`; ``email`` is the verified identity's, if any."""
    if email is None:
        return cid
    return f"{cid}~{hashlib.sha256(email.encode('utf-8')).hexdigest()[:24]}"


def _reply(client_id: str, result: TurnResult, now: datetime) -> Json:
    at = now.isoformat()
    replies = [
        _entry(reply_id, "bot", reply.text, reply.quick_replies, at)
        for reply_id, reply in zip(result.reply_ids, result.replies, strict=True)
    ]
    return {"type": "reply", "client_id": client_id, "replies": replies, "state": result.state}


def _history_entry(index: int, row: TurnRecord) -> Json:
    at = row.created_at.isoformat()
    if row.direction == "in":
        return _entry(row.message_id or f"in-{index}", "user", row.text, (), at)
    return _entry(
        row.message_id or f"out-{index}", "bot", row.text, row.quick_replies, at, row.feedback
    )


def _entry(
    entry_id: str,
    role: str,
    text: str,
    quick_replies: tuple[str, ...],
    at: str,
    feedback: str | None = None,
) -> Json:
    return {
        "id": entry_id,
        "role": role,
        "text": text,
        "quick_replies": list(quick_replies),
        "at": at,
        "feedback": feedback,
    }


def _optional_string(body: Json, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{name} must be a string.")
    return value or None


def _required_string(body: Json, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise bad_request(f"{name} is required and must be a string.")
    return value


def _identifier(body: Json, name: str) -> str:
    value = _required_string(body, name)
    if not value or len(value) > _MAX_ID_CHARS or has_control_characters(value):
        raise bad_request(f"{name} must be 1 to {_MAX_ID_CHARS} printable characters.")
    return value
