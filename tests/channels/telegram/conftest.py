"""A fake Bot API and a shopbot server with Telegram on, for the Telegram channel's tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from shopbot.app import Runtime
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.conftest import ServeShopbot

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
TOKEN = "7000001:AAH-test-token_for-the-fake"
SECRET = "s3cret_Webhook-value"
DELIVERY = {"base_delay_seconds": 0.01, "max_delay_seconds": 0.05, "poll_interval_seconds": 0.2}
ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET}


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@dataclass
class TelegramShop:
    """A running shopbot with Telegram webhooks on, posting updates as Telegram does."""

    url: str
    runtime: Runtime
    fake: FakeBotApi

    async def post(
        self, update: Mapping[str, Any] | bytes, *, secret: str | None = SECRET
    ) -> tuple[int, str]:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/webhooks/telegram", data=body, headers=headers) as response,
        ):
            return response.status, await response.text()


@pytest.fixture
async def telegram_shop(fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot) -> TelegramShop:
    url, runtime = await serve_shopbot(
        env=ENV, telegram={"api_url": fake_telegram.url}, delivery=DELIVERY
    )
    return TelegramShop(url, runtime, fake_telegram)


LONG_TOPIC = "Where is my parcel? Tracking, delivery dates and everything about shipping"
"""A quick-reply label longer than a button's 64-byte callback_data."""


def long_greeting() -> str:
    """A greeting of several paragraphs, about 9,000 characters (a talkative shop owner)."""
    paragraph = (
        "Welcome to the Demo Shop! We sell headphones, speakers, chargers and lamps. " * 12
    ).strip()
    return "\n\n".join(f"Part {n}. {paragraph}" for n in range(1, 11))


@pytest.fixture
def custom_responses(tmp_path: Path) -> Path:
    """The shop's reply templates with a very long greeting and a long topic label."""
    text = (CONFIG_DIR / "responses.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["templates"]["greeting"] = long_greeting()
    data["topics"] = {LONG_TOPIC: "order_status", **data["topics"]}
    path = tmp_path / "responses.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
