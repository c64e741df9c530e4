"""A customer proves who they are by sharing their own phone number (Telegram vouches for it),
instead of typing the order's email; someone else's number proves nothing."""

from __future__ import annotations

from tests.channels.telegram.conftest import TelegramShop
from tests.channels.telegram.updates import contact_update, text_update
from tests.waiting import eventually

CAROL = 5550123  # Carol's Telegram user id (= her private chat with the bot)
CAROL_PHONE = "447700900123"  # as Telegram sends it: on order #12345 as +447700900123
MALLORY = 6660666


async def test_sharing_own_phone_number_shows_the_order_without_an_email(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    await telegram_shop.post(text_update(1, CAROL, "Where is my order #12345?"))
    await eventually(lambda: len(fake.sent(CAROL)) == 1, "the bot asks for the email")
    keyboard = fake.sent(CAROL)[0].params["reply_markup"]
    assert keyboard["one_time_keyboard"] is True
    assert keyboard["keyboard"] == [[{"text": "Share my phone number", "request_contact": True}]]

    await telegram_shop.post(contact_update(2, CAROL, CAROL_PHONE, contact_user_id=CAROL))

    await eventually(lambda: len(fake.sent(CAROL)) == 2, "the bot answers the shared number")
    answer = fake.sent_texts(CAROL)[1]
    assert "#12345" in answer and "being processed" in answer
    assert fake.sent(CAROL)[1].params["reply_markup"] == {"remove_keyboard": True}


async def test_sharing_someone_elses_number_does_not_reveal_their_order(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    await telegram_shop.post(text_update(1, MALLORY, "Where is my order #12345?"))
    await eventually(lambda: len(fake.sent(MALLORY)) == 1, "the bot asks for the email")

    # Carol's contact card, forwarded by Mallory: its user_id is Carol's, not the sender's.
    await telegram_shop.post(contact_update(2, MALLORY, CAROL_PHONE, contact_user_id=CAROL))
    await telegram_shop.post(contact_update(3, MALLORY, CAROL_PHONE, contact_user_id=None))

    await eventually(lambda: len(fake.sent(MALLORY)) == 3, "the bot answers both")
    for text in fake.sent_texts(MALLORY):
        assert "being processed" not in text and "Aurora" not in text
        assert "email address you used for order #12345" in text  # still asked to prove it


async def test_typing_the_email_instead_takes_the_phone_button_away(
    telegram_shop: TelegramShop,
) -> None:
    fake = telegram_shop.fake
    await telegram_shop.post(text_update(1, CAROL, "Where is my order #12345?"))
    await telegram_shop.post(text_update(2, CAROL, "carol@example.com"))

    await eventually(lambda: len(fake.sent(CAROL)) == 2, "the bot answers the email")
    asked, answered = (call.params for call in fake.sent(CAROL))
    assert asked["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert "being processed" in answered["text"]
    assert answered["reply_markup"] == {"remove_keyboard": True}
