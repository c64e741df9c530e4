"""The website chat channel: the embeddable widget's server side (see docs/web-widget-protocol.md).

:func:`create_web_chat` builds the channel from explicit values, and
:func:`~channels.web.server.add_web_routes` adds its routes to the JSON API's aiohttp app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from channels import ChatEngine
from channels.web.chat import CHANNEL, WebChat, WebError, WebOptions, WebStore
from channels.web.limits import RateLimiter, WebRateLimits
from channels.web.server import WebServer, add_web_routes
from channels.web.tokens import (
    ConversationTokens,
    IdentityVerifier,
    load_web_secret,
    make_identity_token,
)
from core.types import utcnow

__all__ = [
    "CHANNEL",
    "ConversationTokens",
    "IdentityVerifier",
    "RateLimiter",
    "WebChat",
    "WebError",
    "WebOptions",
    "WebRateLimits",
    "WebServer",
    "WebStore",
    "add_web_routes",
    "create_web_chat",
    "load_web_secret",
    "make_identity_token",
]


def create_web_chat(
    engine: ChatEngine,
    store: WebStore,
    *,
    secret: bytes,
    identity_secret: bytes | None,
    token_max_age: timedelta,
    messages_per_minute: int,
    ip_messages_per_minute: int,
    options: WebOptions,
    clock: Callable[[], datetime] = utcnow,
) -> WebChat:
    """The web chat with its tokens and rate limits made from these values."""
    return WebChat(
        engine,
        store,
        tokens=ConversationTokens(secret, token_max_age, clock),
        identities=IdentityVerifier(identity_secret, clock),
        limits=WebRateLimits(
            RateLimiter(messages_per_minute),
            RateLimiter(ip_messages_per_minute),
            connections=RateLimiter(ip_messages_per_minute),
        ),
        options=options,
        clock=clock,
    )
