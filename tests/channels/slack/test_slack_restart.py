"""A Slack event acknowledged just before the process died is answered after the restart, once."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from core.dispatch import Dispatcher
from shopbot.app import Runtime, build_runtime
from tests.channels.slack.conftest import FAST_DELIVERY, SLACK_ENV, slack_settings
from tests.channels.slack.fake_slack import FakeSlack, event_body, signed
from tests.conftest import runtime_settings
from tests.waiting import eventually


async def _serve(runtime: Runtime) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(runtime.api_app(), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def _post_event(url: str, body: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/slack/events", data=body, headers=signed(body)) as response,
    ):
        return response.status


async def test_an_event_acknowledged_before_a_crash_is_answered_after_restart(
    model_dir: Path, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = runtime_settings(
        model_dir, tmp_path, SLACK_ENV, slack=slack_settings(fake_slack), delivery=FAST_DELIVERY
    )
    event = {
        "type": "message",
        "channel": "D0AGENT",
        "channel_type": "im",
        "user": "U0AGENT",
        "team": "T0STAFF",
        "text": "where is order #12345?",
        "ts": "30.1",
    }
    body = event_body(event, "EvBeforeCrash")

    # The first process stores and acknowledges the event, then dies before answering it
    # (its dispatcher never got to run).
    before = build_runtime(settings)
    await before.start(platforms=False)
    (channel,) = before.channels
    await channel.start(Dispatcher(before.engine, before.store, {}, metrics=before.metrics))
    runner, url = await _serve(before)
    try:
        assert await _post_event(url, body) == 200
    finally:
        await runner.cleanup()
        await channel.stop()
        await before.stop()
    assert fake_slack.posts == []

    after = build_runtime(settings)
    await after.start()
    runner, url = await _serve(after)
    try:
        await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer after restart")
        assert await _post_event(url, body) == 200  # Slack's retry of the same event
        await _post_event(url, event_body({**event, "text": "thanks, bye", "ts": "31"}, "EvNext"))
        await eventually(lambda: len(fake_slack.accepted_posts) == 2, "the next answer")
    finally:
        await runner.cleanup()
        await after.stop()
    first, second = fake_slack.accepted_posts
    assert "Carol Davies" in first["text"] and first["channel"] == "D0AGENT"
    assert "Carol Davies" not in second["text"]  # answered once, then the next message
