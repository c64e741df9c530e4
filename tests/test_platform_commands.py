"""Which messaging platforms a shop has switched on, as ``shopbot`` reports and checks them."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from config.settings import load_settings
from core.errors import ConfigError
from shopbot.app import platform_channels
from tests.test_cli_commands import _env, run

TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123456:ABC-token", "TELEGRAM_WEBHOOK_SECRET": "s3cret"}
TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "token"}
SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "signing"}


def _closed_port() -> int:
    """A loopback port nothing listens on: a platform API that cannot be reached."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_credentials_no_platforms() -> None:
    assert platform_channels(load_settings(env={})) == []


def test_each_platform_is_on_exactly_when_its_credentials_are_set() -> None:
    env = {
        **TELEGRAM,
        **TWILIO,
        **SLACK,
        "SHOPBOT_TWILIO_SMS_NUMBER": "+15550009999",
        "SHOPBOT_PUBLIC_URL": "https://bot.shop.example",
    }
    names = [channel.name for channel in platform_channels(load_settings(env=env))]
    assert names == ["telegram", "twilio", "slack"]


def test_a_platform_with_only_some_credentials_stays_off_and_says_what_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    env = {"SLACK_BOT_TOKEN": "xoxb-1", **TWILIO}  # no signing secret, no sender number
    assert platform_channels(load_settings(env=env)) == []
    assert "Slack is off: SLACK_SIGNING_SECRET not set" in caplog.text
    assert "Twilio is off" in caplog.text and "SHOPBOT_TWILIO_SMS_NUMBER" in caplog.text
    assert "xoxb-1" not in caplog.text  # a secret never reaches the log


def test_a_telegram_webhook_without_its_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as error:
        platform_channels(load_settings(env={"TELEGRAM_BOT_TOKEN": "123:abc"}))
    assert error.value.key == "TELEGRAM_WEBHOOK_SECRET"
    polling = {"TELEGRAM_BOT_TOKEN": "123:abc", "SHOPBOT_TELEGRAM_MODE": "polling"}
    (telegram,) = platform_channels(load_settings(env=polling))  # no webhook, no secret needed
    assert "polling" in telegram.description


def test_a_telegram_secret_telegram_would_refuse_is_a_configuration_error() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "c2VjcmV0+/=="}
    with pytest.raises(ConfigError) as error:
        platform_channels(load_settings(env=env))
    assert error.value.key == "TELEGRAM_WEBHOOK_SECRET"
    assert "c2VjcmV0" not in str(error.value)  # the secret itself is not repeated


def test_twilio_without_the_public_url_it_signs_with_is_a_configuration_error() -> None:
    env = {**TWILIO, "SHOPBOT_TWILIO_WHATSAPP_NUMBER": "+14155238886"}
    with pytest.raises(ConfigError) as error:
        platform_channels(load_settings(env=env))
    assert error.value.key == "public_url"


def test_serve_refuses_to_start_with_a_half_configured_platform(tmp_path: Path) -> None:
    result = run("serve", "--port", "0", cwd=tmp_path, env=_env(TELEGRAM_BOT_TOKEN="123:abc"))
    assert result.returncode == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in result.stderr
    assert "123:abc" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_channels_check_without_platforms_says_how_to_turn_one_on(tmp_path: Path) -> None:
    result = run("channels", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No messaging platform is configured" in result.stdout
    assert "TELEGRAM_BOT_TOKEN" in result.stdout


def test_channels_check_fails_for_a_platform_it_cannot_reach(tmp_path: Path) -> None:
    env = _env(
        **TELEGRAM,
        SHOPBOT_TELEGRAM_API_URL=f"http://127.0.0.1:{_closed_port()}",
    )
    result = run("channels", "check", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "telegram: FAILED" in result.stdout
    assert "Traceback" not in result.stderr
    assert TELEGRAM["TELEGRAM_BOT_TOKEN"] not in result.stdout + result.stderr
