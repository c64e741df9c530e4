"""Telegram's payloads in shopbot's terms: updates to inbound messages, outbound messages to
``sendMessage`` calls, and python-telegram-bot's errors to the channel error tree.

Nothing here keeps state: a pressed button carries its own label (or finds it in the message the
button belongs to), so any process can answer it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from core.delivery import Capabilities, OutboundMessage
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited, ChannelTimeout
from core.types import Identity, InboundMessage

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "SHARE_PHONE_LABEL",
    "InvalidUpdate",
    "TelegramInbound",
    "TelegramSender",
    "callback_data",
    "channel_error",
    "inbound_from_update",
    "parse_update",
    "reply_markup",
]

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "callback_query")
"""The update types shopbot answers; everything else is acknowledged and ignored."""
SHARE_PHONE_LABEL = "Share my phone number"

_CALLBACK_DATA_BYTES = 64  # Telegram's limit on a button's callback_data


class InvalidUpdate(ValueError):
    """The body is not a Telegram update (malformed JSON or not an Update object)."""


@dataclass(frozen=True, slots=True)
class TelegramInbound:
    """One update as shopbot sees it: the message for the inbox, where the answer goes, and
    the callback query to answer when the user pressed a button."""

    message: InboundMessage
    recipient: str
    callback_query_id: str | None = None


def parse_update(body: bytes, bot: Bot) -> Update:
    """The update in a webhook body or raises :class:`InvalidUpdate`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidUpdate("the body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise InvalidUpdate("the body is not a Telegram update (no update_id)")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # untrusted input: whatever the parser trips on is a bad request
        raise InvalidUpdate(f"the update could not be read: {type(exc).__name__}") from exc
    return update


def inbound_from_update(update: Update) -> TelegramInbound | None:
    """What a customer said in ``update``; ``None`` for updates shopbot does not answer
    (edited messages, channel posts, stickers, group chats, ...)."""
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None  # order details are never discussed in groups
    if message.contact is not None:
        return _from_contact(update.update_id, message)
    if message.text is None:
        return None
    return _inbound(update.update_id, message.chat.id, message.text)


def _inbound(
    update_id: int, chat_id: int, text: str, identity: Identity | None = None
) -> TelegramInbound:
    message = InboundMessage(
        channel=CHANNEL,
        user_id=str(chat_id),
        text=text,
        message_id=str(update_id),
        verified_identity=identity,
    )
    return TelegramInbound(message=message, recipient=str(chat_id))


def _from_contact(update_id: int, message: Message) -> TelegramInbound | None:
    """A shared contact: the sender's own number is an identity Telegram vouches for; anyone
    else's number is only text (it proves nothing about who is asking)."""
    contact = message.contact
    assert contact is not None
    digits = "".join(ch for ch in contact.phone_number if ch.isdigit())
    if not digits:
        return None
    phone = f"+{digits}"
    sender = message.from_user
    own = sender is not None and contact.user_id is not None and contact.user_id == sender.id
    identity = Identity("phone", phone) if own else None
    return _inbound(update_id, message.chat.id, phone, identity)


def _from_callback(update_id: int, query: CallbackQuery) -> TelegramInbound | None:
    """A pressed quick-reply button: the user said the button's label."""
    message = query.message
    if message is not None and message.chat.type != ChatType.PRIVATE:
        return None
    chat_id = message.chat.id if message is not None else query.from_user.id
    label = _label(query)
    if not label:
        return None
    inbound = _inbound(update_id, chat_id, label)
    return TelegramInbound(inbound.message, inbound.recipient, callback_query_id=query.id)


def _label(query: CallbackQuery) -> str | None:
    """The full label of the pressed button: its text in the message it belongs to, else the
    (possibly truncated) label its data carries."""
    data = query.data
    if not data:
        return None
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is not None:
        for row in markup.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    _, _, label = data.partition(":")
    return label or None


def callback_data(index: int, label: str) -> str:
    """A button's data: its position and as much of its label as fits in 64 bytes."""
    prefix = f"{index}:"
    room = _CALLBACK_DATA_BYTES - len(prefix.encode())
    truncated = label.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return prefix + truncated


def reply_markup(
    message: OutboundMessage, *, share_phone_button: bool
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """Quick replies as inline buttons, one per row; or, when the bot asks for the order's
    email, a one-time button sharing the customer's own phone number instead (any other
    message takes that button away again, as the customer may have typed the email)."""
    if message.quick_replies:
        rows = [
            [InlineKeyboardButton(label, callback_data=callback_data(index, label))]
            for index, label in enumerate(message.quick_replies)
        ]
        return InlineKeyboardMarkup(rows)
    if share_phone_button and message.asks_for == "email":
        button = KeyboardButton(SHARE_PHONE_LABEL, request_contact=True)
        return ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
    return ReplyKeyboardRemove() if share_phone_button else None


class TelegramSender:
    """Sends outbound messages with ``sendMessage``: plain text (no parse mode, so nothing a
    customer typed can turn into markup), quick replies as buttons."""

    channel = CHANNEL
    capabilities = Capabilities(max_chars=MessageLimit.MAX_TEXT_LENGTH, buttons=True)

    def __init__(self, bot: Bot, *, share_phone_button: bool) -> None:
        self._bot = bot
        self._share_phone_button = share_phone_button

    async def send(self, message: OutboundMessage) -> None:
        """Send ``message`` to its chat; raises the channel errors ``ChannelSender`` names."""
        markup = reply_markup(message, share_phone_button=self._share_phone_button)
        try:
            await self._bot.send_message(
                chat_id=message.recipient, text=message.text, reply_markup=markup
            )
        except TelegramError as exc:
            raise channel_error(exc, self._bot.token) from exc


def channel_error(exc: TelegramError, token: str) -> ChannelError:
    """python-telegram-bot's error as the channel error saying what to do about it; the token
    never appears in the message. Raise the result ``from exc``."""
    text = str(exc.message).replace(token, "<token>") if token else str(exc.message)
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 announces a type change; both are handled
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            retry_after = exc.retry_after
        seconds = retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
        return ChannelRateLimited(f"Telegram rate limit: {text}", float(seconds))
    if isinstance(exc, InvalidToken):
        return ChannelAuthError(
            "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): copy it again from @BotFather"
        )
    if isinstance(exc, Forbidden | BadRequest):  # BadRequest before its base NetworkError
        return ChannelAuthError(f"Telegram refused the request: {text}")
    if isinstance(exc, TimedOut):
        return ChannelTimeout(f"Telegram did not answer in time: {text}")
    return ChannelError(f"Telegram failed: {text}")
