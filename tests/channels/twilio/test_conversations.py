"""Whole conversations over SMS and WhatsApp: signed webhooks in, REST API calls out."""

from __future__ import annotations

from tests.channels.twilio.conftest import (
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    TwilioBot,
    inbound_form,
)
from tests.waiting import eventually

CAROL_PHONE = "+447700900123"  # crm_adapters/demo/seed.py: Carol Davies, orders 12345 and 1005
STRANGER_PHONE = "+15559990000"


async def test_sms_order_status_verified_by_email(bot: TwilioBot) -> None:
    asked = await bot.say("Where is my order #12345?", STRANGER_PHONE)
    assert "email" in asked.lower() and "processed" not in asked
    answer = await bot.say("carol@example.com", STRANGER_PHONE)
    assert "Your order #12345 is currently being processed" in answer
    assert {m.from_ for m in bot.fake.sent} == {SMS_NUMBER}
    assert {m.to for m in bot.fake.sent} == {STRANGER_PHONE}


async def test_sms_from_the_customers_phone_needs_no_email(bot: TwilioBot) -> None:
    answer = await bot.say("Where is my order #12345?", CAROL_PHONE)
    assert "Your order #12345 is currently being processed" in answer
    assert "email" not in answer.lower()


async def test_whatsapp_reply_comes_from_the_whatsapp_sender(bot: TwilioBot) -> None:
    customer = f"whatsapp:{CAROL_PHONE}"
    answer = await bot.say("where is order 12345", customer, to=f"whatsapp:{WHATSAPP_NUMBER}")
    assert "#12345" in answer and "being processed" in answer
    assert [(m.from_, m.to) for m in bot.fake.sent] == [(f"whatsapp:{WHATSAPP_NUMBER}", customer)]


async def test_sms_and_whatsapp_are_separate_conversations(bot: TwilioBot) -> None:
    asked = await bot.say("where is order 1003", STRANGER_PHONE)
    assert "email" in asked.lower()
    # The same phone on WhatsApp is not in the middle of that question.
    other = await bot.say("bob@example.com", f"whatsapp:{STRANGER_PHONE}")
    assert "Zephyr" not in other


async def test_quick_replies_are_numbered_and_a_number_picks_one(bot: TwilioBot) -> None:
    offered = await bot.say("tell me a joke", STRANGER_PHONE)
    lines = offered.splitlines()
    assert "(Reply with a number.)" in lines
    second = next(line for line in lines if line.startswith("2. ")).removeprefix("2. ")
    assert second == "Product information"
    picked = await bot.say("2", STRANGER_PHONE)
    assert "Which product would you like to know about?" in picked
    assert "Aurora Wireless Headphones" in picked


async def test_media_without_text_gets_a_polite_text_answer(bot: TwilioBot) -> None:
    answer = await bot.say("", CAROL_PHONE, media=1)
    assert "I didn't catch a question there" in answer
    assert [m.media for m in bot.fake.sent] == [()]


async def test_the_same_message_sid_three_times_is_answered_once(bot: TwilioBot) -> None:
    form = inbound_form("what is your return policy?", STRANGER_PHONE)
    for _ in range(3):
        status, content_type, body = await bot.post(form)
        assert status == 200 and content_type == "text/xml" and "<Response/>" in body

    async def answered() -> bool:
        return bool(bot.fake.sent) and await bot.settled()

    await eventually(answered, "the answer")
    assert len(bot.fake.texts(STRANGER_PHONE)) == 1
    assert "30 days" in bot.fake.texts(STRANGER_PHONE)[0]
    assert len(await bot.runtime.store.inbox_items()) == 1
