"""A Telegram Bot API server on 127.0.0.1 for python-telegram-bot to talk to, unchanged.

It records every method call (name and parameters, sent as a form or as JSON), answers the
methods shopbot uses, serves queued updates to ``getUpdates`` honouring the offset, and can be
told to refuse the next ``sendMessage`` calls (429 with ``retry_after``, 500, 401).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Demo Shop", "username": "demo_shop_bot"}
_JSON_PARAMS = ("reply_markup", "allowed_updates")


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API method call as received."""

    method: str
    params: Mapping[str, Any]
    at: float = field(default_factory=time.monotonic)
    """When it was received (``time.monotonic``)."""


class FakeBotApi:
    """The fake Bot API for bot ``token``; ``url`` is what shopbot's ``telegram.api_url`` takes."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.url = ""
        self._updates: list[dict[str, Any]] = []
        self._updates_changed = asyncio.Event()
        self._send_failures: list[tuple[int, int | None]] = []
        self._failing_status: int | None = None
        self._updates_failing_status: int | None = None
        self._webhook_failures = 0
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what a test sets up ---------------------------------------------------------------------
    def queue_update(self, update: dict[str, Any]) -> None:
        """An update for ``getUpdates`` to hand out (polling mode)."""
        self._updates.append(update)
        self._updates_changed.set()

    def fail_next_send(self, status: int, retry_after: int | None = None) -> None:
        """Answer the next ``sendMessage`` with ``status`` (429 carries ``retry_after``)."""
        self._send_failures.append((status, retry_after))

    def fail_sends(self, status: int | None) -> None:
        """Answer every ``sendMessage`` with ``status`` until called with ``None``."""
        self._failing_status = status

    def fail_get_updates(self, status: int | None) -> None:
        """Answer every ``getUpdates`` with ``status`` (409: another poller) until ``None``."""
        self._updates_failing_status = status

    def fail_delete_webhook(self, times: int) -> None:
        """Answer the next ``times`` ``deleteWebhook`` calls with a 502."""
        self._webhook_failures = times

    # -- what a test asserts on ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """The ``sendMessage`` calls that succeeded (to ``chat_id``)."""
        return [
            call
            for call in self.calls_to("sendMessage")
            if call.params.get("_accepted")
            and (chat_id is None or call.params["chat_id"] == str(chat_id))
        ]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        return [str(call.params["text"]) for call in self.sent(chat_id)]

    # -- the server ------------------------------------------------------------------------------
    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if request.match_info["token"] != self.token:
            self.calls.append(Call(method, params))
            return _error(401, "Unauthorized")
        if method == "sendMessage":
            return self._send_message(params)
        self.calls.append(Call(method, params))
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "getUpdates":
            if self._updates_failing_status is not None:
                return _error(
                    self._updates_failing_status, "Conflict: terminated by other getUpdates request"
                )
            return _ok(await self._get_updates(params))
        if method == "deleteWebhook" and self._webhook_failures > 0:
            self._webhook_failures -= 1
            return _error(502, "Bad Gateway")
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return _ok(True)
        return _error(404, "Not Found: method not found")

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        status, retry_after = self._next_send_answer()
        self.calls.append(Call("sendMessage", {**params, "_accepted": status == 200}))
        if status == 429:
            return _error(429, "Too Many Requests: retry later", {"retry_after": retry_after})
        if status != 200:
            return _error(status, "Something went wrong")
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
            "text": params["text"],
        }
        if (
            isinstance(params.get("reply_markup"), dict)
            and "inline_keyboard" in params["reply_markup"]
        ):
            message["reply_markup"] = params["reply_markup"]
        return _ok(message)

    def _next_send_answer(self) -> tuple[int, int | None]:
        if self._send_failures:
            return self._send_failures.pop(0)
        if self._failing_status is not None:
            return self._failing_status, None
        return 200, None

    async def _get_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # An offset confirms every update before it: Telegram forgets them.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._updates_changed.clear()
            wait = min(float(params.get("timeout") or 0), 0.5)  # a short long poll for tests
            try:
                await asyncio.wait_for(self._updates_changed.wait(), wait)
            except TimeoutError:
                pass
        return list(self._updates)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else str(value)
        params[key] = json.loads(text) if key in _JSON_PARAMS else text
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
