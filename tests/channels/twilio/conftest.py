"""Fixtures for the Twilio channel: the fake REST API, and shopbot served with Twilio on.

``TwilioBot`` plays Twilio's side of the webhook: it posts forms exactly as Twilio does, signed
with the auth token over the *public* URL, and reads what the fake API was asked to send.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from shopbot.app import Runtime
from tests.channels.twilio.fake_twilio import FakeTwilio
from tests.conftest import ServeShopbot
from tests.waiting import eventually

ACCOUNT_SID = "AC" + "1f" * 16
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "https://bot.shop.example"
SIGNED_URL = PUBLIC_URL + "/webhooks/twilio"
SMS_NUMBER = "+15557770100"
WHATSAPP_NUMBER = "+14155238886"
ENV = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
DELIVERY = {"base_delay_seconds": 0.01, "max_delay_seconds": 0.05, "poll_interval_seconds": 0.2}


def sign(params: Mapping[str, str], url: str = SIGNED_URL, token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio computes for ``params`` posted to ``url``."""
    return str(RequestValidator(token).compute_signature(url, dict(params)))


def inbound_form(
    text: str, sender: str, *, to: str = SMS_NUMBER, sid: str | None = None, media: int = 0
) -> dict[str, str]:
    """The form Twilio posts for an incoming SMS (or WhatsApp message, by the prefixes)."""
    sid = sid or "SM" + uuid.uuid4().hex
    form = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": str(media),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": text,
        "FromCountry": "GB",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    if sender.startswith("whatsapp:"):
        form |= {"ProfileName": "Carol", "WaId": sender.removeprefix("whatsapp:+")}
        form["MessageType"] = "image" if media else "text"
    for index in range(media):
        form[f"MediaContentType{index}"] = "image/jpeg"
        form[f"MediaUrl{index}"] = (
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media/ME{index}"
        )
    return form


@dataclass
class TwilioBot:
    """shopbot served with Twilio on, the fake REST API it sends through, and Twilio's posts."""

    url: str
    runtime: Runtime
    fake: FakeTwilio

    async def post(
        self,
        form: Mapping[str, str] | bytes,
        *,
        signature: str | None = "sign",
        query: str = "",
        content_type: str = "application/x-www-form-urlencoded",
    ) -> tuple[int, str, str]:
        """POST ``form`` to the webhook, signed like Twilio unless ``signature`` is given
        (``None``: no header); (status, content type, body)."""
        headers = {"Content-Type": content_type}
        if signature == "sign":
            assert not isinstance(form, bytes)
            signature = sign(form, SIGNED_URL + (f"?{query}" if query else ""))
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        data: Any = form if isinstance(form, bytes) else dict(form)
        target = f"{self.url}/webhooks/twilio" + (f"?{query}" if query else "")
        async with aiohttp.ClientSession() as session:
            async with session.post(target, data=data, headers=headers) as response:
                return response.status, response.content_type, await response.text()

    async def settled(self) -> bool:
        """Nothing is waiting to be answered or sent."""
        store = self.runtime.store
        return not await store.inbox_items("pending") and not await store.outbox_items("pending")

    async def say(self, text: str, sender: str, *, to: str = SMS_NUMBER, media: int = 0) -> str:
        """Send ``text`` as the customer at ``sender``; the bot's answer as they see it."""
        before = len(self.fake.texts(sender))
        status, _, _ = await self.post(inbound_form(text, sender, to=to, media=media))
        assert status == 200

        async def answered() -> bool:
            return len(self.fake.texts(sender)) > before and await self.settled()

        await eventually(answered, f"an answer to {text!r}")
        return "\n".join(self.fake.texts(sender)[before:])


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


def twilio_settings(fake: FakeTwilio, **twilio: Any) -> dict[str, Any]:
    """Setting overrides that turn Twilio on against ``fake``."""
    numbers = {"sms_number": SMS_NUMBER, "whatsapp_number": WHATSAPP_NUMBER} | twilio
    return {
        "public_url": PUBLIC_URL,
        "twilio": {"api_url": fake.url, **numbers},
        "delivery": DELIVERY,
    }


@pytest.fixture
async def bot(serve_shopbot: ServeShopbot, fake_twilio: FakeTwilio) -> TwilioBot:
    url, runtime = await serve_shopbot(env=ENV, **twilio_settings(fake_twilio))
    return TwilioBot(url, runtime, fake_twilio)
