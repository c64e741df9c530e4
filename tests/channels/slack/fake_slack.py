"""A fake Slack: the Web API as a real HTTP server, and requests signed as Slack signs them.

:class:`FakeSlack` serves ``/api/<method>`` on 127.0.0.1 so that slack_sdk (and Bolt) talk to it
unchanged. It records every call (method and parameters), answers ``auth.test`` and
``chat.postMessage``, and can be told how to answer the next post (429 with Retry-After, 500,
or ``invalid_auth``). :func:`signed` makes the headers Slack sends with an event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["BOT_TOKEN", "BOT_USER", "SIGNING_SECRET", "Call", "FakeSlack", "signed"]

BOT_TOKEN = "xoxb-test"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER = "U0SHOPBOT"
BOT_ID = "B0SHOPBOT"


@dataclass(frozen=True, slots=True)
class Call:
    """One Web API call as the fake received it."""

    method: str
    params: dict[str, Any]
    token: str | None


def signed(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    retry: int | None = None,
) -> dict[str, str]:
    """The headers Slack sends with ``body``: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


class FakeSlack:
    """The Slack Web API in a real aiohttp server; ``url`` is set once started."""

    def __init__(self, token: str = BOT_TOKEN, team_id: str = "T0STAFF") -> None:
        self.token = token
        self.team_id = team_id
        self.calls: list[Call] = []
        self._next_posts: list[tuple[str, float]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def answer_next_post(self, how: str, retry_after: float = 1) -> None:
        """Answer the next chat.postMessage with ``"429"`` (Retry-After ``retry_after``
        seconds), ``"500"`` or ``"invalid_auth"``."""
        self._next_posts.append((how, retry_after))

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The parameters of every chat.postMessage call (accepted or not)."""
        return [call.params for call in self.calls_to("chat.postMessage")]

    @property
    def accepted_posts(self) -> list[dict[str, Any]]:
        return [call.params for call in self.calls_to("chat.postMessage") if call.params["_ok"]]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        answer = self._answer(method, params, token)
        body = json.loads(answer.text or "{}") if answer.content_type == "application/json" else {}
        params["_ok"] = answer.status == 200 and body.get("ok") is True
        self.calls.append(Call(method, params, token))
        return answer

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> web.Response:
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://shop-staff.slack.com/",
                    "team": "Shop Staff",
                    "user": "shopbot",
                    "team_id": self.team_id,
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                }
            )
        if method != "chat.postMessage":
            return web.json_response({"ok": False, "error": "unknown_method"})
        if self._next_posts:
            how, retry_after = self._next_posts.pop(0)
            if how == "429":
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            if how == "500":
                return web.Response(status=500, text="upstream error")
            return web.json_response({"ok": False, "error": how})
        ts = f"{time.time():.6f}"
        return web.json_response(
            {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
        )


def event_body(event: dict[str, Any], event_id: str, team_id: str = "T0STAFF") -> str:
    """An Events API ``event_callback`` body around ``event``."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": "A0SHOPBOT",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": team_id, "user_id": BOT_USER, "is_bot": True, "enterprise_id": None}
            ],
        }
    )
