"""Telegram ``Update`` JSON as the Bot API delivers it (private chats: chat id == user id)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tests.channels.telegram.fake_bot_api import BOT_USER


def user(user_id: int, first_name: str = "Carol") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def private_chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Carol"}


def _message(update_id: int, chat_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": private_chat(chat_id),
        "from": user(chat_id),
        **fields,
    }


def text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """A customer typed ``text`` to the bot."""
    return {"update_id": update_id, "message": _message(update_id, chat_id, text=text)}


def contact_update(
    update_id: int, chat_id: int, phone: str, contact_user_id: int | None
) -> dict[str, Any]:
    """A customer shared a contact: their own (``contact_user_id == chat_id``, what the
    "share my phone number" button sends) or someone else's."""
    contact: dict[str, Any] = {"phone_number": phone, "first_name": "Someone"}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    return {"update_id": update_id, "message": _message(update_id, chat_id, contact=contact)}


def callback_update(
    update_id: int, chat_id: int, sent: Mapping[str, Any], data: str
) -> dict[str, Any]:
    """A customer pressed the button with ``data`` under the bot's message ``sent`` (the
    ``sendMessage`` parameters the fake recorded)."""
    message = {
        "message_id": 900 + update_id,
        "date": int(time.time()),
        "chat": private_chat(chat_id),
        "from": BOT_USER,
        "text": sent["text"],
        "reply_markup": sent["reply_markup"],
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": user(chat_id),
            "chat_instance": "42",
            "data": data,
            "message": message,
        },
    }


def edited_message_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "edited_message": _message(update_id, chat_id, text=text)}


def sticker_update(update_id: int, chat_id: int) -> dict[str, Any]:
    sticker = {
        "file_id": "CAACAgIAAxkBAAE",
        "file_unique_id": "AgADAQAD",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    return {"update_id": update_id, "message": _message(update_id, chat_id, sticker=sticker)}


def channel_post_update(update_id: int) -> dict[str, Any]:
    post = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": -1001234, "type": "channel", "title": "Shop news"},
        "text": "Sale!",
    }
    return {"update_id": update_id, "channel_post": post}
