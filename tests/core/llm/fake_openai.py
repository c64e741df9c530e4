"""A fake OpenAI-compatible server: chat completions on 127.0.0.1, answered from a script.

It serves ``POST /v1/chat/completions`` (OpenAI and compatible servers) and
``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (Azure OpenAI),
records every request it gets (path, query, headers, JSON body, arrival time) and answers with
the next scripted reply, or the default one when the script is empty. Replies can be content
(structured JSON or text), tool calls, HTTP errors with headers, malformed JSON content, an
empty choices list, a refusal, or no answer at all (hang until the server stops).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeOpenAI", "RecordedRequest", "Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def response_format(self) -> dict[str, Any] | None:
        value = self.body.get("response_format")
        return dict(value) if isinstance(value, dict) else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    """A scripted answer: an HTTP status and JSON body, or a hang."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    raw: str | None = None
    """A body sent as it is (``content_type``) instead of ``body`` as JSON."""
    content_type: str = "application/json"


def _completion(
    model: str,
    message: dict[str, Any] | None,
    finish_reason: str,
    tokens: tuple[int, int],
) -> dict[str, Any]:
    choices = (
        []
        if message is None
        else [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}]
    )
    return {
        "id": f"chatcmpl-fake{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
        "system_fingerprint": "fp_fake",
    }


_ids = itertools.count(1)


class FakeOpenAI:
    """The fake server: ``await start()``, point the client at :attr:`base_url` (or
    :attr:`azure_endpoint`), script replies, ``await stop()``."""

    def __init__(self, model: str = "gpt-4o-mini-2024-07-18") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._default = self._reply("Hello from the fake.", (10, 5))
        self._responder: Callable[[RecordedRequest], Reply] | None = None
        self.latency_seconds = 0.0
        """How long every answer takes (a benchmark sets 0.8 for a realistic model)."""
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """For the ``openai`` provider (``base_url``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For the ``azure`` provider (``azure_endpoint``)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the script -------------------------------------------------------------------------

    def answer(self, reply: Reply, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``reply``."""
        self._script.extend([reply] * times)

    def always(self, reply: Reply) -> None:
        """Answer with ``reply`` once the script is used up."""
        self._default = reply

    def respond_with(self, responder: Callable[[RecordedRequest], Reply] | None) -> None:
        """Once the script is used up, answer each request with ``responder(request)``:
        for replies that depend on the prompt (e.g. echoing a fact it was given)."""
        self._responder = responder

    def json_reply(self, data: object, tokens: tuple[int, int] = (120, 30)) -> Reply:
        """Structured output: ``data`` as the message content."""
        return self._reply(json.dumps(data), tokens)

    def text_reply(
        self, text: str, tokens: tuple[int, int] = (80, 20), finish: str = "stop"
    ) -> Reply:
        """A text answer; ``finish="length"``: cut off at the token limit."""
        return self._reply(text, tokens, finish)

    def malformed_json_reply(self) -> Reply:
        return self._reply('{"intent": "order_status", "order_number": ', (120, 12), "length")

    def tool_call_reply(self, name: str, arguments: dict[str, Any]) -> Reply:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_fake1",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
            ],
            "refusal": None,
        }
        return Reply(body=_completion(self.model, message, "tool_calls", (90, 15)))

    def refusal_reply(self) -> Reply:
        message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        return Reply(body=_completion(self.model, message, "stop", (90, 8)))

    def no_choices_reply(self) -> Reply:
        return Reply(body=_completion(self.model, None, "stop", (90, 0)))

    @staticmethod
    def error_reply(
        status: int, code: str | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        kind = {
            401: "invalid_request_error",
            429: "rate_limit_exceeded",
        }.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {
            "error": {
                "message": f"fake error {status}",
                "type": kind,
                "param": None,
                "code": code,
            }
        }
        return Reply(status=status, body=body, headers=headers or {})

    @staticmethod
    def raw_reply(text: str, content_type: str = "text/html") -> Reply:
        """A 200 whose body is not a chat completion (a proxy's page, another API's JSON)."""
        return Reply(raw=text, content_type=content_type)

    @staticmethod
    def hang_reply() -> Reply:
        return Reply(hang=True)

    def _reply(self, content: str, tokens: tuple[int, int], finish: str = "stop") -> Reply:
        message = {"role": "assistant", "content": content, "refusal": None}
        return Reply(body=_completion(self.model, message, finish, tokens))

    # --- the server -------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            RecordedRequest(
                path=request.path,
                query=dict(request.query),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=body,
                at=time.monotonic(),
            )
        )
        recorded = self.requests[-1]
        if self._script:
            reply = self._script.popleft()
        elif self._responder is not None:
            reply = self._responder(recorded)
        else:
            reply = self._default
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        if reply.hang:
            await self._released.wait()
            raise web.HTTPServiceUnavailable()
        if reply.raw is not None:
            return web.Response(
                text=reply.raw,
                status=reply.status,
                headers=reply.headers,
                content_type=reply.content_type,
            )
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
