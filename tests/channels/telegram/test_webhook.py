"""Customers chatting with the shop's bot on Telegram through webhooks, the whole app running:
what Telegram posts to ``/webhooks/telegram`` and what the bot sends back (recorded by the
fake Bot API)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.channels.telegram.conftest import (
    DELIVERY,
    ENV,
    LONG_TOPIC,
    TelegramShop,
    long_greeting,
)
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import (
    callback_update,
    channel_post_update,
    edited_message_update,
    sticker_update,
    text_update,
)
from tests.conftest import ServeShopbot
from tests.waiting import eventually

CAROL = 5550123


async def test_order_status_conversation_verified_by_email(telegram_shop: TelegramShop) -> None:
    fake = telegram_shop.fake
    status, _ = await telegram_shop.post(text_update(1, CAROL, "Where is my order #12345?"))
    assert status == 200
    await eventually(lambda: len(fake.sent_texts(CAROL)) == 1, "the bot asks for the email")
    assert "email" in fake.sent_texts(CAROL)[0]

    status, _ = await telegram_shop.post(text_update(2, CAROL, "carol@example.com"))
    assert status == 200
    await eventually(lambda: len(fake.sent_texts(CAROL)) == 2, "the bot answers with the status")
    answer = fake.sent_texts(CAROL)[1]
    assert "#12345" in answer and "being processed" in answer
    for call in fake.sent(CAROL):
        assert "parse_mode" not in call.params  # plain text: nothing the customer typed is markup


async def test_quick_replies_are_buttons_and_pressing_one_picks_it(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    await telegram_shop.post(text_update(1, CAROL, "qwpoeiru zxmcnv"))
    await eventually(lambda: len(fake.sent(CAROL)) == 1, "the bot offers topics")
    offer = fake.sent(CAROL)[0].params
    buttons = [row[0] for row in offer["reply_markup"]["inline_keyboard"]]
    labels = [button["text"] for button in buttons]
    assert "Order status" in labels and "Talk to a person" in labels
    assert "Order status" not in offer["text"]  # buttons, not a numbered list
    pressed = buttons[labels.index("Order status")]

    status, body = await telegram_shop.post(
        callback_update(2, CAROL, offer, pressed["callback_data"])
    )

    assert status == 200
    assert json.loads(body) == {"method": "answerCallbackQuery", "callback_query_id": "cbq-2"}
    await eventually(lambda: len(fake.sent(CAROL)) == 2, "the bot answers the chosen topic")
    assert "order number" in fake.sent_texts(CAROL)[1]


async def test_a_label_longer_than_callback_data_still_picks_its_option(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot, custom_responses: Path
) -> None:
    url, runtime = await serve_shopbot(
        env=ENV,
        telegram={"api_url": fake_telegram.url},
        delivery=DELIVERY,
        responses=custom_responses,
    )
    shop = TelegramShop(url, runtime, fake_telegram)
    await shop.post(text_update(1, CAROL, "qwpoeiru zxmcnv"))
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "the bot offers topics")
    offer = fake_telegram.sent(CAROL)[0].params
    buttons = [row[0] for row in offer["reply_markup"]["inline_keyboard"]]
    long_button = next(b for b in buttons if b["text"] == LONG_TOPIC)
    assert len(LONG_TOPIC.encode()) > 64
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

    await shop.post(callback_update(2, CAROL, offer, long_button["callback_data"]))

    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 2, "the bot answers the topic")
    assert "order number" in fake_telegram.sent_texts(CAROL)[1]


async def test_forged_or_missing_secret_is_refused_and_never_answered(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    forged = await telegram_shop.post(text_update(1, CAROL, "hi"), secret="guessed")
    missing = await telegram_shop.post(text_update(2, CAROL, "hi"), secret=None)
    assert forged[0] == missing[0] == 403

    await telegram_shop.post(text_update(3, CAROL, "bye"))
    await eventually(lambda: len(fake.sent(CAROL)) >= 1, "the genuine message is answered")
    assert fake.sent_texts(CAROL) == ["Thanks for getting in touch. Have a great day!"]


async def test_a_secret_header_of_non_utf8_bytes_is_refused_not_an_error(
    telegram_shop: TelegramShop,
) -> None:
    body = json.dumps(text_update(1, CAROL, "hi")).encode()
    host, port = telegram_shop.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /webhooks/telegram HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: \xff\xfe\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"403"
    assert await telegram_shop.runtime.store.inbox_items() == []


async def test_a_redelivered_update_is_answered_once(telegram_shop: TelegramShop) -> None:
    fake = telegram_shop.fake
    for _ in range(3):
        status, _ = await telegram_shop.post(text_update(7, CAROL, "hi"))
        assert status == 200
    await telegram_shop.post(text_update(8, CAROL, "bye"))

    await eventually(lambda: len(fake.sent(CAROL)) >= 2, "both messages are answered")
    texts = fake.sent_texts(CAROL)
    assert len(texts) == 2
    assert texts[0].startswith("Hi!") and texts[1].startswith("Thanks")


async def test_rate_limited_reply_is_retried_after_retry_after_and_arrives_once(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    fake.fail_next_send(429, retry_after=1)
    await telegram_shop.post(text_update(1, CAROL, "hi"))

    await eventually(lambda: len(fake.sent(CAROL)) == 1, "the reply arrives after the wait")
    attempts = fake.calls_to("sendMessage")
    assert len(attempts) == 2 and not attempts[0].params["_accepted"]
    assert attempts[1].at - attempts[0].at >= 0.9  # waited as long as Telegram asked
    assert fake.sent_texts(CAROL)[0].startswith("Hi!")


async def test_a_reply_longer_than_telegram_allows_arrives_in_parts(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot, custom_responses: Path
) -> None:
    url, runtime = await serve_shopbot(
        env=ENV,
        telegram={"api_url": fake_telegram.url},
        delivery=DELIVERY,
        responses=custom_responses,
    )
    await TelegramShop(url, runtime, fake_telegram).post(text_update(1, CAROL, "hello"))

    greeting = long_greeting()
    await eventually(
        lambda: sum(len(t) for t in fake_telegram.sent_texts(CAROL)) >= len(greeting) - 20,
        "the whole greeting arrives",
    )
    parts = fake_telegram.sent_texts(CAROL)
    assert len(parts) >= 3
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(parts).replace("\n", "") == greeting.replace("\n", "")


async def test_malformed_updates_are_refused_and_the_server_keeps_serving(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    for body in (
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"update_id": "one"}',
        b'{"update_id": 5, "message": "not a message"}',
    ):
        status, text = await telegram_shop.post(body)
        assert status == 400, body
        assert "Traceback" not in text
    status, _ = await telegram_shop.post(b"{" + b" " * 300_000 + b"}")
    assert status == 413

    await telegram_shop.post(text_update(9, CAROL, "bye"))
    await eventually(lambda: len(fake.sent(CAROL)) == 1, "a good update is still answered")


async def test_updates_shopbot_does_not_answer_are_acknowledged_and_ignored(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    for update in (
        edited_message_update(1, CAROL, "Where is my order #12345?"),
        sticker_update(2, CAROL),
        channel_post_update(3),
    ):
        status, _ = await telegram_shop.post(update)
        assert status == 200  # else Telegram would redeliver it again and again

    await telegram_shop.post(text_update(4, CAROL, "bye"))
    await eventually(lambda: len(fake.sent()) >= 1, "the text message is answered")
    assert fake.sent_texts() == ["Thanks for getting in touch. Have a great day!"]


async def test_database_down_answers_503_so_telegram_retries_later(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    store = telegram_shop.runtime.store
    await store.stop()  # the conversation database is unreachable
    try:
        status, _ = await telegram_shop.post(text_update(1, CAROL, "bye"))
        assert status == 503  # not acknowledged: nothing was stored
    finally:
        await store.start()

    status, _ = await telegram_shop.post(text_update(1, CAROL, "bye"))  # Telegram's retry
    assert status == 200
    await eventually(lambda: len(fake.sent(CAROL)) == 1, "the retried update is answered")
