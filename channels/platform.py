"""What a messaging-platform channel (Telegram, Twilio, Slack) provides to the app.

A platform channel translates only: its webhook turns a platform payload into an
:class:`~core.types.InboundMessage`, hands it to the :class:`~core.delivery.Inbox` and
acknowledges; its :class:`~core.delivery.ChannelSender` turns an outgoing message into the
platform's API call. The app (``shopbot.app``) owns its lifecycle: build, ``add_routes``,
``start(inbox)``, and ``stop()``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web

from core.delivery import ChannelSender, Inbox
from core.errors import StorageError
from core.types import InboundMessage

__all__ = ["PlatformChannel", "read_body", "submit_or_retry_later"]

log = logging.getLogger(__name__)


class PlatformChannel(Protocol):
    """One messaging platform, wired by the app."""

    name: str
    """The channel's name in conversations, metrics and the outbox (``telegram``)."""

    description: str
    """How it receives messages, for the serve banner (``telegram (webhook /webhooks/...)``)."""

    sender: ChannelSender

    def add_routes(self, app: web.Application) -> None:
        """Add the platform's webhook routes (none for a polling channel)."""
        ...

    async def start(self, inbox: Inbox) -> None:
        """Open the platform client and start delivering inbound messages to ``inbox``."""
        ...

    async def stop(self) -> None:
        """Stop receiving and close the platform client. Idempotent."""
        ...

    async def check(self) -> str:
        """Verify the credentials against the platform; a short description of the account
        (``@shop_bot``) or a ``ChannelError`` saying what is wrong. Needs no ``start``."""
        ...


async def submit_or_retry_later(
    inbox: Inbox, message: InboundMessage, *, recipient: str, thread: str | None = None
) -> web.Response | None:
    """Put ``message`` in the inbox; ``None`` when it is stored (new or a redelivery), else a
    503 for the platform to retry later (the database is down: nothing may be acknowledged)."""
    try:
        await inbox.submit(message, recipient=recipient, thread=thread)
    except StorageError:
        log.exception("could not store a %s message; the platform will retry", message.channel)
        return web.Response(status=503, text="temporarily unavailable")
    return None


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """A webhook's body, or ``None`` when it is larger than ``limit`` bytes (as declared, or
    as counted while reading: a client may lie about its length or send none)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
