"""Fixtures: a fake Slack Web API, and shopbot serving Slack against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from shopbot.app import Runtime
from tests.channels.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, signed
from tests.conftest import ServeShopbot

SLACK_ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
FAST_DELIVERY = {
    "base_delay_seconds": 0.01,
    "max_delay_seconds": 0.05,
    "poll_interval_seconds": 0.2,
}
STAFF_TEAM = "T0STAFF"


def slack_settings(fake: FakeSlack) -> dict[str, Any]:
    return {"api_url": fake.url + "/api/", "staff_teams": (STAFF_TEAM,)}


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@dataclass
class SlackBot:
    """shopbot serving Slack at ``url``, with a client to post to it as Slack does."""

    url: str
    runtime: Runtime
    http: aiohttp.ClientSession

    async def post(
        self, path: str, body: str, headers: dict[str, str] | None = None, **signing: Any
    ) -> aiohttp.ClientResponse:
        """POST ``body`` to ``path``, signed as Slack signs it unless ``headers`` are given."""
        sent = headers if headers is not None else signed(body, **signing)
        async with self.http.post(self.url + path, data=body.encode(), headers=sent) as response:
            await response.read()
            return response


@pytest.fixture
async def slack_bot(serve_shopbot: ServeShopbot, fake_slack: FakeSlack) -> AsyncIterator[SlackBot]:
    url, runtime = await serve_shopbot(
        env=SLACK_ENV, slack=slack_settings(fake_slack), delivery=FAST_DELIVERY
    )
    async with aiohttp.ClientSession() as http:
        yield SlackBot(url, runtime, http)
