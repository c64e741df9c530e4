"""A crash between acknowledging Telegram and sending the reply loses nothing: the next process
on the same databases sends it."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shopbot.app import build_runtime
from tests.channels.telegram.conftest import DELIVERY, ENV, TelegramShop
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import text_update
from tests.conftest import runtime_settings
from tests.waiting import eventually

CAROL = 5550123


async def test_reply_acknowledged_before_a_crash_is_sent_after_the_restart(
    fake_telegram: FakeBotApi, model_dir: Path, tmp_path: Path
) -> None:
    settings = runtime_settings(
        model_dir, tmp_path, ENV, telegram={"api_url": fake_telegram.url}, delivery=DELIVERY
    )
    fake_telegram.fail_sends(500)  # Telegram is down: the first process never gets it out
    first = build_runtime(settings)
    await first.start()
    runner = web.AppRunner(first.api_app(), shutdown_timeout=0.5)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        shop = TelegramShop(f"http://{host}:{port}", first, fake_telegram)
        status, _ = await shop.post(text_update(1, CAROL, "Where is my order #12345?"))
        assert status == 200  # acknowledged: Telegram will not deliver it again
        await eventually(
            lambda: len(fake_telegram.calls_to("sendMessage")) >= 1, "a send was attempted"
        )
    finally:
        await runner.cleanup()
        await first.stop()  # the "crash": the reply is still unsent
    assert fake_telegram.sent(CAROL) == []

    fake_telegram.fail_sends(None)
    second = build_runtime(settings)
    await second.start()
    try:
        await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "the reply is sent")
        assert "email" in fake_telegram.sent_texts(CAROL)[0]
    finally:
        await second.stop()
