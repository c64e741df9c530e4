"""The webhook refuses what Twilio did not sign for the public URL, and bad bodies, cleanly."""

from __future__ import annotations

import pytest

from tests.channels.twilio.conftest import (
    SIGNED_URL,
    TwilioBot,
    inbound_form,
    sign,
)

CUSTOMER = "+15550002222"


async def _nothing_accepted(bot: TwilioBot) -> None:
    assert await bot.runtime.store.inbox_items() == []
    assert bot.fake.attempts == []


async def test_signed_sms_is_acknowledged_with_empty_twiml(bot: TwilioBot) -> None:
    status, content_type, body = await bot.post(inbound_form("hello", CUSTOMER))
    assert (status, content_type) == (200, "text/xml")
    assert body.endswith("<Response/>")
    [item] = await bot.runtime.store.inbox_items()
    message = item.message
    assert (message.channel, message.user_id, message.text) == ("twilio", CUSTOMER, "hello")
    assert message.verified_identity is not None
    assert message.verified_identity.value == CUSTOMER and item.recipient == CUSTOMER


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("forged", id="forged"),
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("other-token", id="another-accounts-token"),
        pytest.param("internal-url", id="signed-for-the-internal-url"),
        pytest.param("tampered", id="params-changed-after-signing"),
    ],
)
async def test_unsigned_requests_are_refused_and_not_answered(
    bot: TwilioBot, signature: str | None
) -> None:
    form = inbound_form("where is order 1003", CUSTOMER)
    header: str | None
    if signature == "forged":
        header = "bm90IGEgcmVhbCBzaWduYXR1cmU="
    elif signature == "other-token":
        header = sign(form, token="f" * 32)
    elif signature == "internal-url":
        header = sign(form, f"{bot.url}/webhooks/twilio")
    elif signature == "tampered":
        header = sign(form)
        form = form | {"Body": "where is order 1001"}
    else:
        header = signature
    status, _, body = await bot.post(form, signature=header)
    assert status == 403 and "Traceback" not in body
    await _nothing_accepted(bot)
    # ... and the service keeps serving real Twilio requests.
    assert "email" in (await bot.say("where is order 1003", "+15559990000")).lower()


async def test_query_string_is_part_of_what_twilio_signs(bot: TwilioBot) -> None:
    form = inbound_form("hello", CUSTOMER)
    status, _, _ = await bot.post(form, signature=sign(form), query="shop=main")
    assert status == 403
    await _nothing_accepted(bot)
    status, _, _ = await bot.post(form, query="shop=main")  # signed with the query
    assert status == 200
    assert len(await bot.runtime.store.inbox_items()) == 1


async def test_a_percent_encoded_query_is_checked_as_twilio_signed_it(bot: TwilioBot) -> None:
    # Twilio signs the webhook URL exactly as configured, escapes and all.
    status, _, _ = await bot.post(inbound_form("hello", CUSTOMER), query="shop=main%20store")
    assert status == 200
    assert len(await bot.runtime.store.inbox_items()) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"Body=\xff\xfe&From=%2B1555", 400, id="not-utf8"),
        pytest.param(b"Body=hi&&From", 400, id="not-a-form"),
        pytest.param(b'{"Body": "hi"}', 400, id="json"),
        pytest.param(b"Body=" + b"a" * 70_000, 413, id="too-large"),
    ],
)
async def test_malformed_bodies_are_refused_without_an_error_page(
    bot: TwilioBot, body: bytes, expected: int
) -> None:
    status, _, text = await bot.post(body, signature=sign({}))
    assert status == expected and "Traceback" not in text
    await _nothing_accepted(bot)


async def test_signed_form_without_sender_or_message_sid_is_a_bad_request(
    bot: TwilioBot,
) -> None:
    for missing in ("From", "MessageSid"):
        form = {k: v for k, v in inbound_form("hello", CUSTOMER).items() if k != missing}
        status, _, _ = await bot.post(form)
        assert status == 400
    await _nothing_accepted(bot)


async def test_signature_over_the_public_url_with_a_port_is_accepted(bot: TwilioBot) -> None:
    # Twilio's own signing is inconsistent about explicit default ports.
    form = inbound_form("hello", CUSTOMER)
    with_port = SIGNED_URL.replace("bot.shop.example", "bot.shop.example:443")
    status, _, _ = await bot.post(form, signature=sign(form, with_port))
    assert status == 200


async def test_a_stopped_channel_checks_the_signature_before_asking_for_a_retry(
    bot: TwilioBot,
) -> None:
    [channel] = bot.runtime.channels
    await channel.stop()
    form = inbound_form("hello", CUSTOMER)
    status, _, _ = await bot.post(form, signature="bm90IGEgcmVhbCBzaWduYXR1cmU=")
    assert status == 403  # a forger learns nothing about the channel's state
    status, _, _ = await bot.post(form)
    assert status == 503  # Twilio retries a signed message later
    await _nothing_accepted(bot)
