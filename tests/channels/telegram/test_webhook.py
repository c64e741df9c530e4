"""Customers chatting with the shop's bot on Telegram through webhooks, the whole app running:
what Telegram posts to ``/webhooks/telegram`` and what the bot sends back (recorded by the
fake Bot API)."""

from __future__ import annotations

from tests.channels.telegram.conftest import TelegramShop, eventually
from tests.channels.telegram.updates import text_update

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
