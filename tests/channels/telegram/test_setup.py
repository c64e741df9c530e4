"""Setting a bot up: the token check, registering the webhook, and what the sender does with
each answer of the Bot API (python-telegram-bot against the fake)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from channels.telegram import TelegramChannel
from core.delivery import OutboundMessage
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited
from shopbot.cli import main
from tests.channels.telegram.conftest import SECRET, TOKEN
from tests.channels.telegram.fake_bot_api import FakeBotApi


def channel(fake: FakeBotApi, token: str = TOKEN, secret: str | None = SECRET) -> TelegramChannel:
    return TelegramChannel(
        token=token,
        webhook_secret=secret,
        api_url=fake.url,
        polling=False,
        share_phone_button=True,
    )


async def test_check_names_the_bot(fake_telegram: FakeBotApi) -> None:
    assert await channel(fake_telegram).check() == "@demo_shop_bot"


async def test_check_with_a_wrong_token_says_so_without_showing_it(
    fake_telegram: FakeBotApi,
) -> None:
    wrong = "7000001:AAH-revoked-token"
    with pytest.raises(ChannelAuthError) as raised:
        await channel(fake_telegram, token=wrong).check()
    assert "TELEGRAM_BOT_TOKEN" in str(raised.value) and "BotFather" in str(raised.value)
    assert wrong not in str(raised.value)


async def test_the_token_never_reaches_the_log(
    fake_telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    class Inbox:
        async def submit(self, *args: object, **kwargs: object) -> bool:
            return True

    caplog.set_level(logging.INFO)  # what `shopbot serve` logs
    bot = channel(fake_telegram)
    await bot.check()
    await bot.set_webhook("https://bot.shop.example/webhooks/telegram")
    await bot.start(Inbox())
    try:
        await bot.sender.send(OutboundMessage(channel="telegram", recipient="42", text="hi"))
    finally:
        await bot.stop()

    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/sendMessage" in line for line in httpx_lines)  # requests are still logged
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]  # not the fake's
    assert not [line for line in ours if TOKEN in line]


async def test_start_with_a_wrong_token_fails(fake_telegram: FakeBotApi) -> None:
    class Inbox:
        async def submit(self, *args: object, **kwargs: object) -> bool:
            raise AssertionError("nothing to deliver")

    with pytest.raises(ChannelAuthError):
        await channel(fake_telegram, token="1:bad").start(Inbox())


async def test_set_webhook_registers_the_url_with_the_secret(fake_telegram: FakeBotApi) -> None:
    await channel(fake_telegram).set_webhook("https://bot.shop.example/webhooks/telegram")

    [call] = fake_telegram.calls_to("setWebhook")
    assert call.params["url"] == "https://bot.shop.example/webhooks/telegram"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]


async def test_cli_set_webhook_and_channels_check(
    fake_telegram: FakeBotApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SHOPBOT_TELEGRAM_API_URL", fake_telegram.url)
    url = "https://bot.shop.example/webhooks/telegram"

    data_dir = ["--data-dir", str(tmp_path)]
    # The command runs its own event loop; the fake keeps serving on this one.
    assert await asyncio.to_thread(main, ["telegram", "set-webhook", url, *data_dir]) == 0
    assert await asyncio.to_thread(main, ["channels", "check", *data_dir]) == 0

    out = capsys.readouterr().out
    assert f"Telegram will post updates to {url}" in out
    assert "telegram: ok (@demo_shop_bot)" in out
    assert fake_telegram.calls_to("setWebhook")[0].params["secret_token"] == SECRET


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, ChannelRateLimited), (500, ChannelError), (401, ChannelAuthError)],
)
async def test_sender_maps_bot_api_refusals(
    fake_telegram: FakeBotApi, status: int, error: type[ChannelError]
) -> None:
    sender = channel(fake_telegram).sender
    fake_telegram.fail_next_send(status, retry_after=3 if status == 429 else None)
    message = OutboundMessage(channel="telegram", recipient="5550123", text="hello")

    with pytest.raises(error) as raised:
        await sender.send(message)

    assert type(raised.value) is error
    assert isinstance(raised.value.__cause__, Exception)  # raised from the library's error
    if isinstance(raised.value, ChannelRateLimited):
        assert raised.value.retry_after == 3
    await sender.send(message)
    assert fake_telegram.sent_texts() == ["hello"]
