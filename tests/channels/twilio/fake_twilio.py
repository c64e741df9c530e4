"""A fake Twilio REST API: a real aiohttp server on 127.0.0.1 that the twilio library talks to.

It checks HTTP Basic auth (account SID : auth token) like Twilio, records every send attempt
and each message it accepted, answers with realistic resources, and can be told to answer the
next sends with 429 (with ``Retry-After`` and Twilio's JSON error body), 500 or 401.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

__all__ = ["Attempt", "FakeTwilio", "SentMessage"]

_ERRORS = {
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
}


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the fake accepted, as the twilio library posted it."""

    to: str
    from_: str
    body: str
    media: tuple[str, ...] = ()  # MediaUrl parameters


@dataclass(frozen=True, slots=True)
class Attempt:
    """One ``POST .../Messages.json``, with the status it was answered with."""

    at: float  # time.monotonic()
    status: int
    to: str


class FakeTwilio:
    """``await start()``, point ``api_url`` at ``url``, ``await stop()``."""

    def __init__(self, account_sid: str, auth_token: str, *, friendly_name: str = "Demo Shop"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.friendly_name = friendly_name
        self.sent: list[SentMessage] = []
        self.attempts: list[Attempt] = []
        self.account_fetches = 0
        self._answers: list[tuple[int, str | None]] = []
        self._always: int | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- control ---------------------------------------------------------------------------
    def answer_next(self, status: int, retry_after: str | None = None) -> None:
        """Answer the next send with ``status`` (429, 500, 401); ``retry_after`` as header."""
        self._answers.append((status, retry_after))

    def answer_all(self, status: int | None) -> None:
        """Answer every send with ``status`` until called with ``None``."""
        self._always = status

    def texts(self, to: str | None = None) -> list[str]:
        """The bodies of the messages accepted (for recipient ``to``), in order."""
        return [m.body for m in self.sent if to is None or m.to == to]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self._fetch_account)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the API ---------------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}" and (
            request.match_info["sid"] == self.account_sid
        )

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        to, from_ = str(form.get("To", "")), str(form.get("From", ""))
        body = str(form.get("Body", ""))
        status, retry_after = self._next_answer(request)
        self.attempts.append(Attempt(time.monotonic(), status, to))
        if status != 201:
            return _error(status, retry_after)
        media = tuple(str(url) for url in form.getall("MediaUrl", []))
        self.sent.append(SentMessage(to=to, from_=from_, body=body, media=media))
        return web.json_response(self._message_resource(to, from_, body), status=201)

    def _next_answer(self, request: web.Request) -> tuple[int, str | None]:
        if not self._authorised(request):
            return 401, None
        if self._answers:
            return self._answers.pop(0)
        if self._always is not None:
            return self._always, None
        return 201, None

    async def _fetch_account(self, request: web.Request) -> web.Response:
        self.account_fetches += 1
        if not self._authorised(request):
            return _error(401, None)
        sid = self.account_sid
        return web.json_response(
            {
                "auth_token": "redacted",
                "date_created": _now(),
                "date_updated": _now(),
                "friendly_name": self.friendly_name,
                "owner_account_sid": sid,
                "sid": sid,
                "status": "active",
                "subresource_uris": {
                    "messages": f"/2010-04-01/Accounts/{sid}/Messages.json",
                },
                "type": "Full",
                "uri": f"/2010-04-01/Accounts/{sid}.json",
            }
        )

    def _message_resource(self, to: str, from_: str, body: str) -> dict[str, Any]:
        sid, message_sid = self.account_sid, "SM" + uuid.uuid4().hex
        return {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": _now(),
            "date_sent": None,
            "date_updated": _now(),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }


def _now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True).replace("GMT", "+0000")


def _error(status: int, retry_after: str | None) -> web.Response:
    code, message = _ERRORS.get(status, (20000 + status, "Error"))
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
        headers=headers,
    )
