"""What a shop owner sets up: the app manifest they paste, and a refused token at start."""

from __future__ import annotations

import pytest
import yaml

from channels.slack import EVENTS_PATH, INTERACTIONS_PATH
from config.settings import CONFIG_DIR
from core.errors import ConfigError
from tests.channels.slack.conftest import FAST_DELIVERY, SLACK_ENV, slack_settings
from tests.channels.slack.fake_slack import FakeSlack
from tests.conftest import ServeShopbot


def test_the_manifest_asks_for_what_the_channel_uses() -> None:
    manifest = yaml.safe_load((CONFIG_DIR / "slack-app-manifest.yaml").read_text("utf-8"))
    assert manifest["display_information"]["name"]
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "chat:write",
        "im:history",
        "im:read",
        "im:write",
    ]
    settings = manifest["settings"]
    events = settings["event_subscriptions"]
    assert sorted(events["bot_events"]) == ["app_mention", "message.im"]
    assert events["request_url"] == "https://bot.shop.example" + EVENTS_PATH
    interactivity = settings["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == "https://bot.shop.example" + INTERACTIONS_PATH
    assert settings["socket_mode_enabled"] is False


async def test_a_refused_token_stops_the_start_naming_the_variable(
    serve_shopbot: ServeShopbot, fake_slack: FakeSlack
) -> None:
    env = {**SLACK_ENV, "SLACK_BOT_TOKEN": "xoxb-revoked"}
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN") as refused:
        await serve_shopbot(env=env, slack=slack_settings(fake_slack), delivery=FAST_DELIVERY)
    assert "xoxb-revoked" not in str(refused.value)
