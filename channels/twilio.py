"""SMS and WhatsApp through Twilio: one signed webhook in, the REST API out.

Twilio posts every incoming SMS and WhatsApp message as a form to ``/webhooks/twilio``, signed
(``X-Twilio-Signature``) with the account's auth token over the URL configured in the Twilio
console. The webhook checks that signature against the shop's *public* URL (behind a proxy the
URL this server sees differs), stores the message in the inbox and acknowledges with an empty
TwiML ``<Response/>`` so that Twilio sends nothing itself. The reply goes out later through
the REST API (``TwilioSender``), from the shop's SMS number or its ``whatsapp:`` sender.

A WhatsApp user's address keeps its ``whatsapp:`` prefix, so SMS and WhatsApp from the same
phone are two conversations; both carry the phone number as a verified identity, which lets a
customer read their own orders without giving an email.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.platform import read_body, submit_or_retry_later
from core.delivery import Capabilities, ChannelSender, Inbox, OutboundMessage
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited, ChannelTimeout
from core.retry_after import retry_after_seconds
from core.types import Identity, InboundMessage

__all__ = ["MAX_CHARS", "WEBHOOK_PATH", "TwilioChannel", "TwilioSender"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/twilio"
"""Where Twilio posts incoming SMS and WhatsApp messages (after ``public_url``)."""
MAX_CHARS = 1600
"""The longest message body Twilio accepts; longer replies are sent in several messages."""

_WHATSAPP = "whatsapp:"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MAX_BODY_BYTES = 64 * 1024  # a Twilio webhook form is a few KB even with ten media items
_MAX_FIELDS = 200
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_CHECK_TIMEOUT = 15.0

# The library's exception carries no headers; the HTTP client below notes a 429's
# Retry-After here, in the context of the task that made the call.
_retry_after: ContextVar[float | None] = ContextVar("twilio_retry_after", default=None)


class _Rejected(Exception):
    """A webhook request refused with ``status`` (never a 500)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _RetryAfterHttpClient:
    """The library's aiohttp client, composed: it also notes a 429's Retry-After, and sends
    the credentials as a header. The library's log lines leave the Authorization header out."""

    is_async = True

    def __init__(self) -> None:
        self._http = AsyncTwilioHttpClient()
        self.logger = self._http.logger
        self.timeout = None

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's HttpClient interface
        allow_redirects: bool = False,
    ) -> Any:
        if auth is not None:  # as a header: aiohttp deprecates the auth= the library passes
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        response = await self._http.request(
            method,
            uri,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code == 429:
            _retry_after.set(retry_after_seconds(response.headers))
        return response

    async def close(self) -> None:
        await self._http.close()


def _channel_error(exc: Exception) -> ChannelError:
    """A Twilio or transport failure as the error tree says what to do about it.

    Twilio's messages can quote the phone number, so only the status and error code are kept.
    """
    if isinstance(exc, TwilioException) and isinstance(getattr(exc, "status", None), int):
        status: int = exc.status  # TwilioRestException and TwilioServiceException
        code = getattr(exc, "code", None)
        what = f"HTTP {status}, Twilio error {code}" if code else f"HTTP {status}"
        if status == 429:
            return ChannelRateLimited(f"Twilio rate limit ({what})", _retry_after.get())
        if status in (401, 403):
            return ChannelAuthError(
                f"Twilio rejected the account SID or auth token ({what}); check "
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            )
        if 400 <= status < 500:
            return ChannelAuthError(f"Twilio refused the request ({what})")
        return ChannelError(f"Twilio failed ({what})")
    if isinstance(exc, TimeoutError):
        return ChannelTimeout("Twilio did not answer in time")
    if isinstance(exc, aiohttp.ClientError):
        return ChannelError(f"could not reach Twilio ({type(exc).__name__})")
    return ChannelError(f"Twilio client failed ({type(exc).__name__}: {exc})")


class _TwilioApi:
    """The twilio REST client on the async path, opened on first use, pointed at ``api_url``."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_url = api_url.rstrip("/")
        self._http: _RetryAfterHttpClient | None = None
        self._client: Any = None

    def _open(self) -> Any:
        if self._client is None:
            self._http = _RetryAfterHttpClient()
            client = Client(
                self._account_sid,
                self._auth_token,
                http_client=self._http,
                # Our own mapping instead of os.environ: TWILIO_EDGE/TWILIO_REGION in the
                # process environment must not rewrite the host.
                environment={"TWILIO_ACCOUNT_SID": self._account_sid},
            )
            client.api.base_url = self._api_url  # the Domain's public attribute
            self._client = client
        return self._client

    async def create_message(self, *, to: str, from_: str, body: str) -> None:
        _retry_after.set(None)
        try:
            await self._open().messages.create_async(to=to, from_=from_, body=body)
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            raise _channel_error(exc) from exc

    async def account_name(self) -> str:
        _retry_after.set(None)
        try:
            account = await self._open().api.v2010.accounts(self._account_sid).fetch_async()
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            raise _channel_error(exc) from exc
        return str(account.friendly_name or self._account_sid)

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()


def _bare(number: str | None) -> str | None:
    """A configured number without any ``whatsapp:`` prefix; ``None`` when not set."""
    if not number:
        return None
    return number.removeprefix(_WHATSAPP).strip() or None


class TwilioSender:
    """Sends replies through Twilio's REST API: to ``whatsapp:+...`` from the WhatsApp sender,
    to anything else from the SMS number. A recipient of a kind with no configured sender
    fails permanently (``ChannelAuthError``), as do Twilio's other 4xx refusals."""

    channel = "twilio"
    capabilities = Capabilities(max_chars=MAX_CHARS, buttons=False)

    def __init__(self, api: _TwilioApi, *, sms_number: str | None, whatsapp_number: str | None):
        self._api = api
        self._sms_number = _bare(sms_number)
        self._whatsapp_number = _bare(whatsapp_number)
        self.stopped = True

    def sender_for(self, recipient: str) -> str:
        """The ``From`` address for ``recipient``; ``ChannelAuthError`` when none is set."""
        if recipient.startswith(_WHATSAPP):
            if self._whatsapp_number is None:
                raise ChannelAuthError(
                    "no WhatsApp sender configured (SHOPBOT_TWILIO_WHATSAPP_NUMBER)"
                )
            return _WHATSAPP + self._whatsapp_number
        if self._sms_number is None:
            raise ChannelAuthError("no SMS number configured (SHOPBOT_TWILIO_SMS_NUMBER)")
        return self._sms_number

    async def send(self, message: OutboundMessage) -> None:
        """Send ``message.text`` to ``message.recipient`` (errors mapped to the error tree)."""
        if self.stopped:  # retried after the next start rather than on a closed session
            raise ChannelError("the Twilio channel is stopped")
        from_ = self.sender_for(message.recipient)
        await self._api.create_message(to=message.recipient, from_=from_, body=message.text)


def _identity(address: str) -> Identity | None:
    """The phone number an SMS or WhatsApp message came from, if it is an E.164 number."""
    number = address.removeprefix(_WHATSAPP)
    return Identity("phone", number) if _E164.fullmatch(number) else None


class TwilioChannel:
    """SMS and WhatsApp through one Twilio account (a :class:`~channels.platform.PlatformChannel`).

    ``public_url`` is the address Twilio calls (``https://bot.shop.example``), which it signs
    with; ``api_url`` Twilio's REST API; ``sms_number``/``whatsapp_number`` the shop's senders
    (E.164), at least one of them set.
    """

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        public_url: str,
        api_url: str,
        sms_number: str | None,
        whatsapp_number: str | None,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_url = api_url
        self._validator = RequestValidator(auth_token)
        self._signed_url = public_url.rstrip("/") + WEBHOOK_PATH
        self._api = _TwilioApi(account_sid, auth_token, api_url)
        self._sender = TwilioSender(
            self._api, sms_number=sms_number, whatsapp_number=whatsapp_number
        )
        self.sender: ChannelSender = self._sender
        self._inbox: Inbox | None = None
        kinds = [
            f"SMS {_bare(sms_number)}" if _bare(sms_number) else "",
            f"WhatsApp {_bare(whatsapp_number)}" if _bare(whatsapp_number) else "",
        ]
        self.description = f"twilio (webhook {WEBHOOK_PATH}: {', '.join(k for k in kinds if k)})"

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /webhooks/twilio``."""
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self, inbox: Inbox) -> None:
        """Accept webhooks into ``inbox`` and allow sending (the HTTP client opens on use)."""
        self._inbox = inbox
        self._sender.stopped = False

    async def stop(self) -> None:
        """Refuse further webhooks and close the HTTP session. Idempotent."""
        self._inbox = None
        self._sender.stopped = True
        await self._api.close()

    async def check(self) -> str:
        """``account <friendly name>`` for good credentials, else ``ChannelAuthError``."""
        api = _TwilioApi(self._account_sid, self._auth_token, self._api_url)
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT):
                return f"account {await api.account_name()}"
        except TimeoutError as exc:
            raise ChannelTimeout(f"Twilio did not answer within {_CHECK_TIMEOUT:.0f} s") from exc
        finally:
            await api.close()

    # -- the webhook ---------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        try:
            params = await self._signed_form(request)
            message, recipient = self._message(params)
        except _Rejected as exc:
            return web.Response(status=exc.status, text=exc.reason)
        inbox = self._inbox
        if inbox is None:  # checked after the signature, as the other channels do
            return web.Response(status=503, text="not started")
        refused = await submit_or_retry_later(inbox, message, recipient=recipient)
        if refused is not None:
            return refused
        return web.Response(text=_EMPTY_TWIML, content_type="text/xml")

    async def _signed_form(self, request: web.Request) -> MultiDict[str]:
        """The form Twilio posted, once its signature over the public URL is checked."""
        signature = request.headers.get("X-Twilio-Signature")
        body = await read_body(request, _MAX_BODY_BYTES)
        if body is None:
            raise _Rejected(413, "body too large")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=bool(body),
                max_num_fields=_MAX_FIELDS,
            )
        except ValueError as exc:  # UnicodeDecodeError included
            raise _Rejected(400, "the body must be a URL-encoded form") from exc
        params: MultiDict[str] = MultiDict(pairs)
        # Twilio signs the URL as configured, its query still percent-encoded.
        query = request.rel_url.raw_query_string
        url = self._signed_url + (f"?{query}" if query else "")
        if not signature or not self._validator.validate(url, params, signature):
            # Most often SHOPBOT_PUBLIC_URL differs from the URL set in the Twilio console.
            log.warning("refused a Twilio webhook: missing or invalid X-Twilio-Signature")
            raise _Rejected(403, "invalid signature")
        return params

    def _message(self, params: MultiDict[str]) -> tuple[InboundMessage, str]:
        """The inbound message and the address to answer, from a verified form."""
        sender = params.get("From", "").strip()
        message_id = params.get("MessageSid", "").strip()
        if not sender or not message_id:
            raise _Rejected(400, "From and MessageSid are required")
        message = InboundMessage(
            channel=self.name,
            user_id=sender,
            text=params.get("Body", ""),
            message_id=message_id,
            verified_identity=_identity(sender),
        )
        return message, sender
