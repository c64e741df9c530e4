"""Telegram: customers chat with the shop's bot; shopbot answers through the Bot API.

Updates arrive either as webhooks (``POST /webhooks/telegram``, checked against the secret
registered with ``shopbot telegram set-webhook``) or, for local development, by long polling.
Either way an update is only put in the inbox before it is acknowledged; the dispatcher answers
it later and sends the replies with :class:`~channels.telegram_messages.TelegramSender`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from aiohttp import web
from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest

from channels.platform import read_body, submit_or_retry_later
from channels.telegram_messages import (
    ALLOWED_UPDATES,
    CHANNEL,
    InvalidUpdate,
    TelegramInbound,
    TelegramSender,
    channel_error,
    inbound_from_update,
    parse_update,
)
from core.delivery import ChannelSender, Inbox
from core.errors import ConfigError, StorageError

__all__ = ["MAX_WEBHOOK_BYTES", "SECRET_HEADER", "WEBHOOK_PATH", "TelegramChannel"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_WEBHOOK_BYTES = 256 * 1024
"""Larger bodies are refused: a customer's update is a few kilobytes at most."""

_POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates call open waiting for updates
_MAX_BACKOFF = 30.0
_E = TypeVar("_E", bound=Exception)


class _RedactToken(logging.Filter):
    """Takes the bot token out of httpx's request log lines: the Bot API has it in every URL
    (``/bot<token>/sendMessage``) and httpx logs each request at INFO."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token and self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), None
        return True


@contextlib.contextmanager
def _token_kept_out_of_logs(redaction: _RedactToken) -> Iterator[None]:
    """The token redacted from httpx's log while the block runs (unless it already is)."""
    logger = logging.getLogger("httpx")
    added = redaction not in logger.filters
    logger.addFilter(redaction)
    try:
        yield
    finally:
        if added:
            logger.removeFilter(redaction)


class _BotClient:
    """A python-telegram-bot ``Bot`` on ``api_url`` with HTTP clients we open and close."""

    def __init__(self, token: str, api_url: str) -> None:
        base = api_url.rstrip("/")
        self._requests = (HTTPXRequest(), HTTPXRequest(read_timeout=10.0))
        self.bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )

    async def open(self) -> None:
        for request in self._requests:
            await request.initialize()  # re-creates a client closed by a previous stop

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()


class TelegramChannel:
    """The Telegram bot as a platform channel (see :class:`channels.platform.PlatformChannel`).

    ``webhook_secret`` is what Telegram sends in ``X-Telegram-Bot-Api-Secret-Token`` (required
    for webhooks); ``api_url`` the Bot API server; ``polling`` fetches updates with getUpdates
    instead of receiving webhooks; ``share_phone_button`` offers the customer a button to
    share their own phone number when the bot asks for an order's email.
    """

    name: str = CHANNEL

    def __init__(
        self,
        *,
        token: str,
        webhook_secret: str | None,
        api_url: str,
        polling: bool,
        share_phone_button: bool,
    ) -> None:
        self._token = token
        self._secret = webhook_secret.encode() if webhook_secret else None
        self._api_url = api_url
        self._polling = polling
        self._client = _BotClient(token, api_url)
        self._redaction = _RedactToken(token)
        self.sender: ChannelSender = TelegramSender(
            self._client.bot, share_phone_button=share_phone_button
        )
        self.description = (
            "telegram (long polling)" if polling else f"telegram (webhook POST {WEBHOOK_PATH})"
        )
        self._inbox: Inbox | None = None
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """``POST /webhooks/telegram`` (nothing in polling mode)."""
        if not self._polling:
            app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self, inbox: Inbox) -> None:
        """Open the Bot API client and deliver updates to ``inbox``; raises ``ChannelAuthError``
        for a token Telegram rejects. An unreachable Bot API only logs a warning (sends are
        retried)."""
        logging.getLogger("httpx").addFilter(self._redaction)  # until stop()
        await self._client.open()
        try:
            user = await self._client.bot.get_me()
        except InvalidToken as exc:
            await self._client.close()
            logging.getLogger("httpx").removeFilter(self._redaction)
            raise channel_error(exc, self._token) from exc
        except TelegramError as exc:
            log.warning("Telegram is not reachable yet: %s", channel_error(exc, self._token))
        else:
            log.info("Telegram bot @%s is on", user.username)
        self._inbox = inbox
        if self._polling and self._poller is None:
            self._poller = asyncio.create_task(self._poll(inbox), name="telegram-polling")

    async def stop(self) -> None:
        """Stop polling and close the client. Idempotent."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        self._inbox = None
        await self._client.close()
        logging.getLogger("httpx").removeFilter(self._redaction)

    async def check(self) -> str:
        """``@username`` of the bot the token belongs to; ``ChannelAuthError`` for a wrong token."""
        client = _BotClient(self._token, self._api_url)
        try:
            with _token_kept_out_of_logs(self._redaction):
                user = await client.bot.get_me()
        except TelegramError as exc:
            raise channel_error(exc, self._token) from exc
        finally:
            await client.close()
        return f"@{user.username}"

    async def set_webhook(self, url: str) -> None:
        """Ask Telegram to post this bot's messages and button presses to ``url`` (the public
        https address of ``POST /webhooks/telegram``) with the webhook secret."""
        if self._secret is None:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET", "needed to register a webhook")
        client = _BotClient(self._token, self._api_url)
        try:
            with _token_kept_out_of_logs(self._redaction):
                await client.bot.set_webhook(
                    url=url,
                    secret_token=self._secret.decode(),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
        except TelegramError as exc:
            raise channel_error(exc, self._token) from exc
        finally:
            await client.close()

    # -- webhooks --------------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        """Store the update and acknowledge; the reply is sent later from the outbox."""
        if not self._authentic(request):
            return web.Response(status=403, text="forbidden")
        body = await read_body(request, MAX_WEBHOOK_BYTES)
        if body is None:
            return web.Response(status=413, text="body too large")
        try:
            inbound = inbound_from_update(parse_update(body, self._client.bot))
        except InvalidUpdate as exc:
            return web.Response(status=400, text=str(exc))
        except Exception:  # a payload PTB parsed but could not make sense of
            log.info("unreadable Telegram update", exc_info=True)
            return web.Response(status=400, text="unreadable update")
        if inbound is None:
            return web.Response(status=200)  # not something shopbot answers: acknowledged
        if self._inbox is None:
            return web.Response(status=503, text="not started")
        failed = await submit_or_retry_later(
            self._inbox, inbound.message, recipient=inbound.recipient
        )
        if failed is not None:
            return failed
        if inbound.callback_query_id is not None:
            # Telegram runs a method given in the webhook's answer: the button stops spinning
            # without another API call.
            answer = {
                "method": "answerCallbackQuery",
                "callback_query_id": inbound.callback_query_id,
            }
            return web.json_response(answer)
        return web.Response(status=200)

    def _authentic(self, request: web.Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        if self._secret is None or given is None:
            return False
        # surrogateescape: a header of non-UTF-8 bytes is simply a wrong secret, not an error
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._secret)

    # -- long polling ----------------------------------------------------------------------------
    async def _poll(self, inbox: Inbox) -> None:
        """Fetch updates until cancelled; the offset confirming an update to Telegram moves
        past it only once the inbox has stored it, so a crash loses nothing."""
        bot = self._client.bot
        await self._retrying("deleteWebhook", bot.delete_webhook)
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=_POLL_TIMEOUT, allowed_updates=list(ALLOWED_UPDATES)
                )
            except TelegramError as exc:
                failures += 1
                log.warning("Telegram getUpdates failed: %s", channel_error(exc, self._token))
                await asyncio.sleep(_backoff(failures))
                continue
            failures = 0
            for update in updates:
                await self._deliver_polled(update, inbox)
                offset = update.update_id + 1

    async def _deliver_polled(self, update: Update, inbox: Inbox) -> None:
        try:
            inbound = inbound_from_update(update)
        except Exception:  # an update we cannot read is skipped, not retried
            log.info("unreadable Telegram update %s skipped", update.update_id, exc_info=True)
            return
        if inbound is None:
            return
        await self._store_polled(inbound, inbox)
        if inbound.callback_query_id is not None:
            query_id = inbound.callback_query_id
            try:
                await self._client.bot.answer_callback_query(query_id)
            except TelegramError as exc:  # the spinner stops by itself; the answer still comes
                log.info("could not answer a button press: %s", channel_error(exc, self._token))

    async def _store_polled(self, inbound: TelegramInbound, inbox: Inbox) -> None:
        await _until_done(
            lambda: inbox.submit(inbound.message, recipient=inbound.recipient),
            StorageError,
            lambda exc: f"could not store a Telegram update ({exc}); retrying",
        )

    async def _retrying(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        await _until_done(
            call,
            TelegramError,
            lambda exc: f"Telegram {what} failed: {channel_error(exc, self._token)}",
        )


async def _until_done(
    call: Callable[[], Awaitable[object]],
    errors: type[_E],
    describe: Callable[[_E], str],
) -> None:
    """Await ``call()`` until it returns; each of ``errors`` is logged and retried after a
    growing pause (the loops that must not lose an update or give up on setup)."""
    failures = 0
    while True:
        try:
            await call()
            return
        except errors as exc:
            failures += 1
            log.warning("%s", describe(exc))
            await asyncio.sleep(_backoff(failures))


def _backoff(failures: int) -> float:
    return float(min(_MAX_BACKOFF, 0.5 * 2.0 ** (failures - 1)))
