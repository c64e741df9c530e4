"""Slack's payloads and API calls for the staff channel: events and button clicks in, messages out.

The translation is pure: :func:`inbound_from_event` and :func:`inbound_from_action` turn a
verified Events API or interactivity payload into an :class:`~core.types.InboundMessage` (or
``None`` for what the bot ignores); :class:`SlackSender` posts the dispatcher's messages with
``chat.postMessage``; :func:`channel_error` is the one place slack_sdk failures become the
project's channel errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.delivery import Capabilities, OutboundMessage
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited, ChannelTimeout
from core.retry_after import retry_after_seconds
from core.types import Identity, InboundMessage
from core.verification import STAFF

__all__ = [
    "CAPABILITIES",
    "CHANNEL",
    "SlackBot",
    "SlackInbound",
    "SlackSender",
    "channel_error",
    "escape",
    "inbound_from_action",
    "inbound_from_event",
    "message_blocks",
]

CHANNEL = "slack"
SECTION_LIMIT = 3000
"""The longest text of a section block, and so of one message's part."""
BUTTON_TEXT_LIMIT = 75
CAPABILITIES = Capabilities(max_chars=SECTION_LIMIT, buttons=True)

# Errors that say our token or the conversation is gone: retrying cannot help.
_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
    }
)
# Errors Slack itself reports as temporary.
_TEMPORARY = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True, slots=True)
class SlackBot:
    """Who the bot token belongs to (``auth.test``): its workspace and its own user."""

    team_id: str
    team: str
    user_id: str
    user: str
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class SlackInbound:
    """A translated Slack message and where its answer goes (channel id, thread ts)."""

    message: InboundMessage
    recipient: str
    thread: str | None


def escape(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped as Slack requires, so that text cannot
    mention ``@channel``, a user, or make a link."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _sections(text: str) -> list[str]:
    """The escaped text in pieces of at most ``SECTION_LIMIT`` (escaping lengthens it), cut
    after a space where there is one, and never inside an escape."""
    pieces: list[str] = []
    current: list[str] = []  # one entry per character of ``text``, escaped
    size = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > SECTION_LIMIT:
            cut = max((i for i, p in enumerate(current) if p.isspace()), default=-1) + 1
            cut = cut or len(current)  # one unbroken word: cut it between characters
            pieces.append("".join(current[:cut]))
            current = current[cut:]
            size = sum(len(p) for p in current)
        current.append(piece)
        size += len(piece)
    if current:
        pieces.append("".join(current))
    return pieces


def _button(index: int, label: str) -> dict[str, Any]:
    shown = label if len(label) <= BUTTON_TEXT_LIMIT else label[: BUTTON_TEXT_LIMIT - 1] + "…"
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": shown, "emoji": True},
        "value": label,  # the click is answered as if the user typed the label
        "action_id": f"quick_reply_{index}",
    }


def message_blocks(message: OutboundMessage) -> list[dict[str, Any]]:
    """The message's text as mrkdwn section blocks, and its quick replies as buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in _sections(message.text)
    ]
    if message.quick_replies:
        buttons = [_button(i, label) for i, label in enumerate(message.quick_replies[:25])]
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def channel_error(exc: Exception) -> ChannelError:
    """The channel error for a failed Slack API call (raise it ``from exc``)."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        data = exc.response.data if isinstance(exc.response.data, Mapping) else {}
        error = str(data.get("error") or f"HTTP {status}")
        if status == 429 or error == "ratelimited":
            return ChannelRateLimited(f"slack: {error}", retry_after_seconds(exc.response.headers))
        if error in _REFUSED:
            return ChannelAuthError(f"slack: {error}")
        if (status is not None and status >= 500) or error in _TEMPORARY:
            return ChannelError(f"slack: {error}")
        return ChannelAuthError(f"slack refused the call: {error}")  # permanent: do not retry
    if isinstance(exc, TimeoutError):
        return ChannelTimeout("slack: no answer in time")
    if isinstance(exc, (aiohttp.ClientError, SlackClientError)):
        return ChannelError(f"slack: {type(exc).__name__}: {exc}")
    return ChannelError(f"slack: {exc!r}")


class SlackSender:
    """Posts the dispatcher's messages with ``chat.postMessage`` (see ``ChannelSender``)."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def send(self, message: OutboundMessage) -> None:
        """Post ``message`` in its channel (in its thread, if any); failures are mapped by
        :func:`channel_error`."""
        kwargs: dict[str, Any] = {
            "channel": message.recipient,
            "text": escape(message.text),  # the notification's and screen readers' text
            "blocks": message_blocks(message),
            "unfurl_links": False,
        }
        if message.thread:
            kwargs["thread_ts"] = message.thread
        try:
            await self._client.chat_postMessage(**kwargs)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise channel_error(exc) from exc


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _identity(team: str | None, user: str, staff_teams: frozenset[str]) -> Identity | None:
    """Staff when the sender's own workspace (as the payload states it) is a staff one."""
    return Identity(STAFF, f"{team}:{user}") if team and team in staff_teams else None


def _strip_mention(text: str, bot_user_id: str) -> str:
    return re.sub(rf"^\s*<@{re.escape(bot_user_id)}(\|[^>]*)?>[\s:,]*", "", text)


def inbound_from_event(
    body: Mapping[str, Any], bot: SlackBot, staff_teams: frozenset[str]
) -> SlackInbound | None:
    """A direct message or a mention of the bot as an inbound message; ``None`` for events
    the bot does not answer (other bots, itself, edits, joins, other channels' chatter)."""
    event = body.get("event")
    event_id = _text(body.get("event_id"))
    if not isinstance(event, Mapping) or event_id is None:
        return None
    kind, user, channel = event.get("type"), _text(event.get("user")), _text(event.get("channel"))
    if event.get("subtype") or event.get("bot_id") or not user or not channel:
        return None
    if user == bot.user_id:
        return None
    # The sender's own workspace: in a shared (Slack Connect) channel it is not ours. Only
    # that decides staff; the workspace the request came through is ours whoever wrote.
    sender_team = _text(event.get("user_team")) or _text(event.get("team"))
    team = sender_team or _text(body.get("team_id"))
    raw_text = event.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    if not team:
        return None
    if kind == "message" and event.get("channel_type") == "im":
        user_id, thread = f"{team}:{user}", None
    elif kind == "app_mention":
        thread = _text(event.get("thread_ts")) or _text(event.get("ts"))
        if thread is None:
            return None
        user_id, text = f"{team}:{channel}:{thread}", _strip_mention(text, bot.user_id)
    else:
        return None
    message = InboundMessage(
        channel=CHANNEL,
        user_id=user_id,
        text=text,
        message_id=event_id,
        verified_identity=_identity(sender_team, user, staff_teams),
    )
    return SlackInbound(message, channel, thread)


def inbound_from_action(
    body: Mapping[str, Any], staff_teams: frozenset[str]
) -> SlackInbound | None:
    """A click on one of the bot's quick-reply buttons, as if the user typed its label, in
    the conversation of the message it belongs to; ``None`` for anything else."""
    actions, user, container = body.get("actions"), body.get("user"), body.get("container")
    if not (isinstance(actions, list) and actions and isinstance(actions[0], Mapping)):
        return None
    if not (isinstance(user, Mapping) and isinstance(container, Mapping)):
        return None
    action = actions[0]
    value, action_ts = _text(action.get("value")), _text(action.get("action_ts"))
    user_id, channel = _text(user.get("id")), _text(container.get("channel_id"))
    message_ts = _text(container.get("message_ts"))
    team_field = body.get("team")
    body_team = _text(team_field.get("id")) if isinstance(team_field, Mapping) else None
    sender_team = _text(user.get("team_id"))
    team = sender_team or body_team
    if not (value and action_ts and user_id and channel and message_ts and team):
        return None
    message = body.get("message")
    thread = _text(message.get("thread_ts")) if isinstance(message, Mapping) else None
    # The bot answers mentions in their thread and direct messages outside any thread.
    conversation = f"{team}:{channel}:{thread}" if thread else f"{team}:{user_id}"
    inbound = InboundMessage(
        channel=CHANNEL,
        user_id=conversation,
        text=value,
        message_id=f"{message_ts}:{action_ts}",
        verified_identity=_identity(sender_team, user_id, staff_teams),
    )
    return SlackInbound(inbound, channel, thread)
