"""The JSON HTTP API: ``POST /api/v1/messages``, ``POST /api/v1/parse``, health and metrics.

Every refusal is a JSON body ``{"error": {"code", "message", "field"}}`` with a 4xx status, and
an unexpected failure is a JSON 503 without a stack trace, so a client can always parse the
answer and the server keeps serving.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from channels import ChatEngine
from channels.platform import read_body
from core.metrics import Metrics
from core.text import clean_text, has_control_characters
from core.types import InboundMessage, TurnResult, Understanding

__all__ = ["CHANNEL", "MAX_USER_ID_CHARS", "ApiError", "create_api_app"]

CHANNEL = "api"
MAX_USER_ID_CHARS = 128

_log = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ApiError(Exception):
    """A request the API refuses; rendered as the JSON error body with ``status``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    return web.json_response(body, status=status)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_text_chars: int
    max_body_bytes: int


class _Api:
    """The route handlers, sharing the engine, the limits and the token."""

    def __init__(
        self,
        engine: ChatEngine,
        limits: _Limits,
        api_token: str | None,
        about: Callable[[], Mapping[str, str]],
    ) -> None:
        self._engine = engine
        self._limits = limits
        self._expected_token = api_token.encode() if api_token else None
        self._about = about

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **self._about()})

    async def messages(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await self._read_object(request)
        user_id = _user_id(body)
        text = self._text(body)
        result = await self._engine.handle(
            InboundMessage(channel=CHANNEL, user_id=user_id, text=text)
        )
        return web.json_response(_turn_json(result))

    async def parse(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await self._read_object(request)
        understanding = await self._engine.understand(self._text(body))
        return web.json_response(_understanding_json(understanding))

    def _authorize(self, request: web.Request) -> None:
        if self._expected_token is None:
            return
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        given = token.strip().encode("utf-8", "surrogateescape")
        # The scheme name is case-insensitive (RFC 7235); the token is compared in constant
        # time, so it cannot be guessed byte by byte from response times.
        valid = hmac.compare_digest(given, self._expected_token)
        if scheme.lower() != "bearer" or not valid:
            raise ApiError(401, "unauthorized", "Send the API token as 'Authorization: Bearer …'.")

    async def _read_object(self, request: web.Request) -> dict[str, Any]:
        raw = await self._read_body(request)
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "invalid_encoding", "The body must be UTF-8 encoded JSON.") from exc
        try:
            body = json.loads(decoded)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "invalid_json", "The body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_type", "The body must be a JSON object.")
        return body

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self._limits.max_body_bytes
        raw = await read_body(request, limit)
        if raw is None:
            raise ApiError(413, "body_too_large", f"The body must be at most {limit} bytes.")
        return raw

    def _text(self, body: dict[str, Any]) -> str:
        text = clean_text(_string_field(body, "text"))
        limit = self._limits.max_text_chars
        if len(text) > limit:
            raise ApiError(
                413, "text_too_long", f"text must be at most {limit} characters.", "text"
            )
        # Empty text goes on to the engine, which answers it with a friendly prompt.
        return text


def _string_field(body: dict[str, Any], name: str) -> str:
    if name not in body:
        raise ApiError(422, "missing_field", f"{name} is required.", name)
    value = body[name]
    if not isinstance(value, str):
        raise ApiError(422, "invalid_type", f"{name} must be a string.", name)
    return value


def _user_id(body: dict[str, Any]) -> str:
    user_id = _string_field(body, "user_id")
    if not user_id.strip():
        raise ApiError(422, "invalid_value", "user_id must not be empty.", "user_id")
    if len(user_id) > MAX_USER_ID_CHARS:
        message = f"user_id must be at most {MAX_USER_ID_CHARS} characters."
        raise ApiError(422, "invalid_value", message, "user_id")
    if has_control_characters(user_id):
        message = "user_id must not contain control characters."
        raise ApiError(422, "invalid_value", message, "user_id")
    return user_id


def _attributes_json(understanding: Understanding) -> dict[str, str]:
    return understanding.attributes.as_dict()


def _turn_json(result: TurnResult) -> dict[str, Any]:
    understanding = result.understanding
    return {
        "conversation_id": result.conversation_id,
        "replies": [
            {"text": reply.text, "quick_replies": list(reply.quick_replies)}
            for reply in result.replies
        ],
        "state": str(result.state),
        "nlu": {
            "intent": understanding.classification.intent,
            "confidence": float(understanding.classification.confidence),
            "corrected_text": understanding.spelling.text,
            "attributes": _attributes_json(understanding),
        },
    }


def _understanding_json(understanding: Understanding) -> dict[str, Any]:
    classification = understanding.classification
    return {
        "intent": classification.intent,
        "confidence": float(classification.confidence),
        "ranking": [
            {"intent": score.intent, "confidence": float(score.confidence)}
            for score in classification.ranking
        ],
        "corrected_text": understanding.spelling.text,
        "corrections": [
            {"original": c.original, "corrected": c.corrected, "start": c.start}
            for c in understanding.spelling.corrections
        ],
        "attributes": _attributes_json(understanding),
    }


def _http_error(exc: web.HTTPException) -> web.Response:
    code = _HTTP_CODES.get(exc.status, "http_error")
    response = _error_response(exc.status, code, exc.reason)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _error_middleware(metrics: Metrics) -> Any:
    @web.middleware
    async def errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            metrics.count_rejected(CHANNEL, exc.code)
            response = _error_response(exc.status, exc.code, exc.message, exc.field)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            metrics.count_rejected(CHANNEL, _HTTP_CODES.get(exc.status, "http_error"))
            return _http_error(exc)
        except Exception:
            # The engine already turns stage failures into answers; anything reaching here is a
            # bug or an outage (e.g. the database), so log it for the operator and tell the
            # client only that it may retry.
            _log.exception("unexpected error handling %s %s", request.method, request.path)
            message = "The service is temporarily unavailable; please retry."
            return _error_response(503, "unavailable", message)

    return errors


def create_api_app(
    engine: ChatEngine,
    *,
    metrics: Metrics,
    api_token: str | None = None,
    max_text_chars: int = 2000,
    max_body_bytes: int = 65536,
    about: Callable[[], Mapping[str, str]] | None = None,
) -> web.Application:
    """The aiohttp application serving the JSON API on top of ``engine``.

    ``api_token``, when set, is required as ``Authorization: Bearer <token>`` on the POST routes;
    the GET routes (``/healthz``, ``/metrics``) stay open for probes and scrapers. ``about``
    adds facts to ``/healthz`` (e.g. the intent model version being served).
    """
    api = _Api(engine, _Limits(max_text_chars, max_body_bytes), api_token, about or dict)
    app = web.Application(middlewares=[_error_middleware(metrics)], client_max_size=max_body_bytes)

    async def render_metrics(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})

    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/metrics", render_metrics)
    app.router.add_post("/api/v1/messages", api.messages)
    app.router.add_post("/api/v1/parse", api.parse)
    return app
