"""Slack: the shop's support staff ask the bot about orders in direct messages or by mentioning it.

Slack posts events (``POST /slack/events``) and button clicks (``POST /slack/interactions``).
Each request's signature (``X-Slack-Signature``, a timestamp at most five minutes old) is
checked before anything else is done for it; then a Bolt ``AsyncApp`` answers Slack's URL
verification and ignores the bot's own messages; its listeners only translate the payload
(:mod:`channels.slack_messages`) and put the message in the inbox, and Bolt acknowledges after
that (``process_before_response``), so an acknowledged message is never lost. The dispatcher
answers later through :class:`SlackSender`.

Members of the workspaces in ``staff_teams`` are the shop's staff: their messages carry a
``staff`` identity and they may read any order in full.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.platform import read_body, submit_or_retry_later
from channels.slack_messages import (
    CHANNEL,
    SlackBot,
    SlackInbound,
    SlackSender,
    channel_error,
    inbound_from_action,
    inbound_from_event,
)
from core.delivery import ChannelSender, Inbox
from core.errors import ChannelAuthError, ChannelError, ConfigError

__all__ = ["EVENTS_PATH", "INTERACTIONS_PATH", "MAX_REQUEST_BYTES", "SlackChannel"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INTERACTIONS_PATH = "/slack/interactions"
MAX_REQUEST_BYTES = 256 * 1024
"""Larger requests are refused: an event or a button click is a few kilobytes."""


class SlackChannel:
    """Slack for the shop's staff as a platform channel (see ``channels.platform``).

    ``bot_token`` is the app's Bot User OAuth Token (``xoxb-…``), ``signing_secret`` what Slack
    signs requests with, ``api_url`` the Web API base (``https://slack.com/api/``) and
    ``staff_teams`` the workspace ids whose members are staff.
    """

    name = CHANNEL
    description = f"slack (events {EVENTS_PATH}, interactions {INTERACTIONS_PATH})"

    def __init__(
        self, *, bot_token: str, signing_secret: str, api_url: str, staff_teams: frozenset[str]
    ) -> None:
        # No retry handlers: the dispatcher alone decides when to retry (429s included).
        self._client = AsyncWebClient(token=bot_token, base_url=api_url, retry_handlers=[])
        self._staff_teams = staff_teams
        self._inbox: Inbox | None = None
        self._bot: SlackBot | None = None
        self._bot_lock = asyncio.Lock()
        self.sender: ChannelSender = SlackSender(self._client)
        self._app = self._bolt_app(signing_secret, api_url)
        # Checked once, by _handle, before anything else is done for a request.
        self._signature = SignatureVerifier(signing_secret)

    def _bolt_app(self, signing_secret: str, api_url: str) -> AsyncApp:
        """Bolt with our listeners. Bolt passes arguments by name, so they are plain functions."""
        app = AsyncApp(
            # Bolt's own client gets the token from ``authorize`` per request; it makes no calls.
            client=AsyncWebClient(base_url=api_url, retry_handlers=[]),
            signing_secret=signing_secret,
            # _handle has verified the signature before Bolt sees the request: not twice.
            request_verification_enabled=False,
            authorize=self._authorize_function(),  # from the cached auth.test: no call per request
            process_before_response=True,  # acknowledge only once the inbox has the message
            logger=log,
        )

        async def on_event(body: dict[str, Any]) -> BoltResponse | None:
            assert self._bot is not None  # _handle learnt it before dispatching
            return await self._submit(inbound_from_event(body, self._bot, self._staff_teams))

        async def on_other_event() -> None:
            """Events the bot does not answer are acknowledged all the same (or Slack retries)."""

        async def on_action(body: dict[str, Any], ack: AsyncAck) -> BoltResponse | None:
            refused = await self._submit(inbound_from_action(body, self._staff_teams))
            if refused is None:
                await ack()
            return refused

        app.event("message")(on_event)
        app.event("app_mention")(on_event)
        app.event(re.compile(".*"))(on_other_event)
        app.action(re.compile(".*"))(on_action)
        return app

    def _authorize_function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            assert self._bot is not None  # _handle learnt it before dispatching
            bot = self._bot
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id or bot.team_id,
                bot_token=self._client.token,
                bot_user_id=bot.user_id,
                bot_id=bot.bot_id,
            )

        return authorize

    # -- lifecycle -------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """``POST /slack/events`` and ``POST /slack/interactions``."""
        app.router.add_post(EVENTS_PATH, self._handle)
        app.router.add_post(INTERACTIONS_PATH, self._handle)

    async def start(self, inbox: Inbox) -> None:
        """Deliver to ``inbox`` from now on; learns who the bot is (``auth.test``). A refused
        token stops the start; Slack being unreachable does not (asked again on the next event)."""
        self._inbox = inbox
        try:
            await self._whoami()
        except ChannelAuthError as exc:
            raise ConfigError("SLACK_BOT_TOKEN", f"Slack refused the token ({exc})") from exc
        except ChannelError as exc:
            log.warning(
                "could not reach Slack at start (%s); will try again on the next event", exc
            )

    async def stop(self) -> None:
        """Stop delivering to the inbox (the API client holds no connection between calls)."""
        self._inbox = None

    async def check(self) -> str:
        """``team <name> (<team id>) as <bot user>``, from ``auth.test``."""
        bot = await self._whoami(cached=False)
        return f"team {bot.team} ({bot.team_id}) as {bot.user}"

    async def _whoami(self, *, cached: bool = True) -> SlackBot:
        async with self._bot_lock:
            if self._bot is not None and cached:
                return self._bot
            try:
                answer = await self._client.auth_test()
            except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise channel_error(exc) from exc
            self._bot = SlackBot(
                team_id=str(answer.get("team_id", "")),
                team=str(answer.get("team", "")),
                user_id=str(answer.get("user_id", "")),
                user=str(answer.get("user", "")),
                bot_id=answer.get("bot_id"),
            )
            return self._bot

    # -- HTTP ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        """One request from Slack, through Bolt; malformed or oversized ones get a 4xx."""
        if not _plausible_signature_headers(request):
            # Bolt would fail on these with a 500 (int() of the timestamp, compare_digest of a
            # non-ASCII signature): refuse them as the bad signatures they are.
            return web.json_response({"error": "invalid request"}, status=401)
        raw = await read_body(request, MAX_REQUEST_BYTES)
        if raw is None:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_REQUEST_BYTES, actual_size=0)
        if not self._signature.is_valid_request(raw, dict(request.headers)):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers={key: request.headers.getall(key) for key in set(request.headers)},
            )
        except (ValueError, TypeError, AttributeError, KeyError):
            raise web.HTTPBadRequest(text="malformed Slack request") from None
        if not _well_formed(bolt_request.body):
            raise web.HTTPBadRequest(text="malformed Slack request")
        if bolt_request.body.get("type") != "url_verification":
            try:
                await self._whoami()
            except ChannelError as exc:
                log.warning("cannot answer Slack yet: %s", exc)
                return web.Response(status=503, text="temporarily unavailable")
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    async def _submit(self, inbound: SlackInbound | None) -> BoltResponse | None:
        """Put the message in the inbox; a 503 for Slack to retry when it cannot be stored."""
        if inbound is None:
            return None
        if self._inbox is None:
            return BoltResponse(status=503, body="not started")
        refused = await submit_or_retry_later(
            self._inbox, inbound.message, recipient=inbound.recipient, thread=inbound.thread
        )
        if refused is not None:
            return BoltResponse(status=refused.status, body=refused.text or "")
        return None


def _plausible_signature_headers(request: web.Request) -> bool:
    """Whether the signature headers, when present, have a shape Bolt can check: a timestamp
    of ASCII digits and an ASCII signature (missing ones are refused by Bolt itself)."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if timestamp is not None and not (timestamp.isascii() and timestamp.isdigit()):
        return False
    return signature is None or signature.isascii()


def _well_formed(body: object) -> bool:
    """Whether Bolt can route ``body`` without tripping over its shape."""
    if not isinstance(body, Mapping) or not body:
        return False
    if "event" in body and not isinstance(body["event"], Mapping):
        return False
    actions = body.get("actions")
    if actions is not None:
        return (
            isinstance(actions, list)
            and bool(actions)
            and all(isinstance(a, Mapping) and isinstance(a.get("action_id"), str) for a in actions)
        )
    return True
