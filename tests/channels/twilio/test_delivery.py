"""Sending through Twilio's REST API: rate limits, refusals, long replies, restarts, check()."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from channels.twilio import MAX_CHARS, TwilioChannel
from core.delivery import OutboundMessage, outbound_messages
from core.errors import ChannelAuthError, ChannelError
from core.types import Reply
from shopbot.app import build_runtime
from tests.channels.twilio.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ENV,
    PUBLIC_URL,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    TwilioBot,
    inbound_form,
    twilio_settings,
)
from tests.channels.twilio.fake_twilio import FakeTwilio
from tests.conftest import ServeShopbot, runtime_settings
from tests.waiting import eventually

CUSTOMER = "+15559990000"


def _channel(fake: FakeTwilio, *, token: str = AUTH_TOKEN, **numbers: str | None) -> TwilioChannel:
    return TwilioChannel(
        account_sid=ACCOUNT_SID,
        auth_token=token,
        public_url=PUBLIC_URL,
        api_url=fake.url,
        sms_number=numbers.get("sms_number", SMS_NUMBER),
        whatsapp_number=numbers.get("whatsapp_number", WHATSAPP_NUMBER),
    )


async def test_rate_limited_send_is_retried_after_retry_after(bot: TwilioBot) -> None:
    bot.fake.answer_next(429, retry_after="1")
    answer = await bot.say("what is your return policy?", CUSTOMER)
    assert "30 days" in answer
    assert len(bot.fake.sent) == 1
    first, second = bot.fake.attempts
    assert (first.status, second.status) == (429, 201)
    # The delivery settings back off 0.01 s; only Twilio's Retry-After explains the wait.
    assert second.at - first.at >= 0.9


async def test_server_error_is_retried(bot: TwilioBot) -> None:
    bot.fake.answer_next(500)
    bot.fake.answer_next(500)
    assert "30 days" in await bot.say("what is your return policy?", CUSTOMER)
    assert [a.status for a in bot.fake.attempts] == [500, 500, 201]


async def test_refused_credentials_are_recorded_not_retried(bot: TwilioBot) -> None:
    bot.fake.answer_all(401)
    status, _, _ = await bot.post(inbound_form("what is your return policy?", CUSTOMER))
    assert status == 200

    async def failed() -> bool:
        return bool(await bot.runtime.store.outbox_items("failed"))

    await eventually(failed, "the send recorded as failed")
    [item] = await bot.runtime.store.outbox_items("failed")
    assert "TWILIO_AUTH_TOKEN" in (item.last_error or "")
    assert CUSTOMER not in (item.last_error or "")
    assert len(bot.fake.attempts) == 1 and bot.fake.sent == []


async def test_whatsapp_without_a_whatsapp_sender_fails_permanently(
    serve_shopbot: ServeShopbot, fake_twilio: FakeTwilio
) -> None:
    url, runtime = await serve_shopbot(
        env=ENV, **twilio_settings(fake_twilio, whatsapp_number=None)
    )
    bot = TwilioBot(url, runtime, fake_twilio)
    status, _, _ = await bot.post(inbound_form("hello", f"whatsapp:{CUSTOMER}"))
    assert status == 200

    async def failed() -> bool:
        return bool(await runtime.store.outbox_items("failed"))

    await eventually(failed, "the send recorded as failed")
    [item] = await runtime.store.outbox_items("failed")
    assert "SHOPBOT_TWILIO_WHATSAPP_NUMBER" in (item.last_error or "")
    assert fake_twilio.attempts == []
    assert "30 days" in await bot.say("what is your return policy?", CUSTOMER)  # SMS still works


async def test_long_reply_goes_out_in_parts_within_twilios_limit(fake_twilio: FakeTwilio) -> None:
    # No engine answer is this long today; the split is core's, driven by our capabilities.
    paragraph = "Your order has shipped and is on its way to you. " * 20
    long_text = "\n\n".join([paragraph.strip()] * 4)
    channel = _channel(fake_twilio)
    messages = outbound_messages(
        [Reply(long_text, quick_replies=("Order status", "Talk to a person"))],
        channel.sender.capabilities,
        channel="twilio",
        recipient=CUSTOMER,
    )
    await channel.start(_NoInbox())
    try:
        for message in messages:
            await channel.sender.send(message)
    finally:
        await channel.stop()
    texts = fake_twilio.texts(CUSTOMER)
    assert len(texts) >= 3 and all(len(text) <= MAX_CHARS for text in texts)
    assert texts[-1].endswith("2. Talk to a person\n(Reply with a number.)")
    assert sum(text.count("on its way") for text in texts) == long_text.count("on its way")


async def test_reply_waiting_at_a_crash_goes_out_after_the_restart(
    model_dir: Path, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    overrides = twilio_settings(fake_twilio)
    # Retries 0.5 s apart: the stop below lands while the dispatcher waits, not mid-claim.
    overrides["delivery"] = overrides["delivery"] | {"base_delay_seconds": 0.5}
    settings = runtime_settings(model_dir, tmp_path, ENV, **overrides)
    first = build_runtime(settings)
    await first.start()
    runner = web.AppRunner(first.api_app(), shutdown_timeout=1.0)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        bot = TwilioBot(f"http://{host}:{port}", first, fake_twilio)
        fake_twilio.answer_all(500)
        status, _, _ = await bot.post(inbound_form("what is your return policy?", CUSTOMER))
        assert status == 200

        async def tried() -> bool:
            return bool(fake_twilio.attempts)

        await eventually(tried, "a first send attempt")
    finally:
        await runner.cleanup()
        await first.stop()
    assert fake_twilio.sent == []
    fake_twilio.answer_all(None)
    second = build_runtime(settings)
    await second.start()
    try:

        async def delivered() -> bool:
            return bool(fake_twilio.sent) and not await second.store.outbox_items("pending")

        await eventually(delivered, "the reply after the restart")
    finally:
        await second.stop()
    assert len(fake_twilio.texts(CUSTOMER)) == 1
    assert "30 days" in fake_twilio.texts(CUSTOMER)[0]


async def test_check_names_the_account_without_start(fake_twilio: FakeTwilio) -> None:
    assert await _channel(fake_twilio).check() == "account Demo Shop"
    assert fake_twilio.account_fetches == 1


async def test_check_with_a_wrong_auth_token_says_so(fake_twilio: FakeTwilio) -> None:
    with pytest.raises(ChannelAuthError, match="TWILIO_AUTH_TOKEN"):
        await _channel(fake_twilio, token="f" * 32).check()


async def test_check_when_twilio_cannot_be_reached(fake_twilio: FakeTwilio) -> None:
    channel = _channel(fake_twilio)
    await fake_twilio.stop()
    with pytest.raises(ChannelError, match="could not reach Twilio"):
        await channel.check()


async def test_send_after_stop_is_retryable_not_sent(fake_twilio: FakeTwilio) -> None:
    channel = _channel(fake_twilio)
    await channel.start(_NoInbox())
    await channel.stop()
    await channel.stop()  # idempotent
    message = OutboundMessage(channel="twilio", recipient=CUSTOMER, text="hello")
    with pytest.raises(ChannelError) as caught:
        await channel.sender.send(message)
    assert not isinstance(caught.value, ChannelAuthError)
    assert fake_twilio.attempts == []


class _NoInbox:
    async def submit(self, message: object, *, recipient: str, thread: str | None = None) -> bool:
        raise AssertionError("no webhook in this test")
