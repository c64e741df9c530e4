"""Which messaging platforms a shop has switched on, built from the settings (not started).

Part of the composition root: only ``shopbot.app`` and ``shopbot.cli`` use it.
"""

from __future__ import annotations

import logging
import re

from channels.platform import PlatformChannel
from config.settings import Settings
from core.errors import ConfigError

__all__ = ["platform_channels"]

log = logging.getLogger(__name__)


def platform_channels(settings: Settings) -> list[PlatformChannel]:
    """The messaging platforms whose credentials are in the environment, not yet started.

    A platform is on exactly when its credentials are set; one with only some of them set is
    left off with a warning naming what is missing. Raises ConfigError for a platform that
    cannot work as configured (a Telegram webhook without its secret, Twilio without the
    public URL it signs with).
    """
    return [
        channel
        for channel in (_telegram(settings), _twilio(settings), _slack(settings))
        if channel is not None
    ]


def _present(platform: str, variables: dict[str, str | None]) -> bool:
    """Whether all of a platform's credentials are set; warns when only some are."""
    missing = [name for name, value in variables.items() if not value]
    if missing and len(missing) < len(variables):
        log.warning("%s is off: %s not set", platform, ", ".join(missing))
    return not missing


_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _telegram(settings: Settings) -> PlatformChannel | None:
    secrets = settings.secrets
    if not secrets.telegram_bot_token:
        return None
    telegram = settings.telegram
    secret = secrets.telegram_webhook_secret
    if telegram.mode == "webhook" and not secret:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET",
            "Telegram webhooks need a secret (any 1-256 of A-Z a-z 0-9 _ -); "
            "or set SHOPBOT_TELEGRAM_MODE=polling for local development",
        )
    if secret and not _TELEGRAM_SECRET.fullmatch(secret):
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET",
            "Telegram accepts only 1-256 of A-Z a-z 0-9 _ - (e.g. `openssl rand -hex 32`)",
        )
    from channels.telegram import TelegramChannel  # the SDKs load only when used

    return TelegramChannel(
        token=secrets.telegram_bot_token,
        webhook_secret=secrets.telegram_webhook_secret,
        api_url=telegram.api_url,
        polling=telegram.mode == "polling",
        share_phone_button=telegram.share_phone_button,
    )


def _twilio(settings: Settings) -> PlatformChannel | None:
    secrets, twilio = settings.secrets, settings.twilio
    numbers = twilio.sms_number or twilio.whatsapp_number
    credentials = {
        "TWILIO_ACCOUNT_SID": secrets.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": secrets.twilio_auth_token,
        "SHOPBOT_TWILIO_SMS_NUMBER or SHOPBOT_TWILIO_WHATSAPP_NUMBER": numbers,
    }
    if not _present("Twilio", credentials):
        return None
    assert secrets.twilio_account_sid and secrets.twilio_auth_token
    if not settings.public_url:
        raise ConfigError(
            "public_url",
            "Twilio signs each webhook with the URL it was configured with; set "
            "SHOPBOT_PUBLIC_URL to the https address Twilio calls (without /webhooks/twilio)",
        )
    from channels.twilio import TwilioChannel

    return TwilioChannel(
        account_sid=secrets.twilio_account_sid,
        auth_token=secrets.twilio_auth_token,
        public_url=settings.public_url,
        api_url=twilio.api_url,
        sms_number=twilio.sms_number,
        whatsapp_number=twilio.whatsapp_number,
    )


def _slack(settings: Settings) -> PlatformChannel | None:
    secrets = settings.secrets
    credentials = {
        "SLACK_BOT_TOKEN": secrets.slack_bot_token,
        "SLACK_SIGNING_SECRET": secrets.slack_signing_secret,
    }
    if not _present("Slack", credentials):
        return None
    assert secrets.slack_bot_token and secrets.slack_signing_secret
    from channels.slack import SlackChannel

    return SlackChannel(
        bot_token=secrets.slack_bot_token,
        signing_secret=secrets.slack_signing_secret,
        api_url=settings.slack.api_url,
        staff_teams=frozenset(settings.slack.staff_teams),
    )
