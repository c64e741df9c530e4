"""The one way shopbot talks to a language model: chat completions through the official
``openai`` package (OpenAI, Azure OpenAI, or any OpenAI-compatible server such as vLLM, Ollama
or llama.cpp).

The client composes the SDK's async client with its own retries (the SDK's are switched off so
there is one policy, one count and one place that honours retry-after), a circuit breaker and
an observer for metrics. Vendor errors become :mod:`core.errors` in :func:`map_openai_error`.
Prompts and completions are personal data: they are never logged, nor is the key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.completion_create_params import ResponseFormat

from core.errors import (
    LLMAuthError,
    LLMBadOutput,
    LLMError,
    LLMRateLimited,
    LLMUnavailable,
)
from core.llm.breaker import CircuitBreaker
from core.llm.retry import RetryPolicy, retry_after_seconds
from core.llm.types import ChatMessage, LLMObserver, LLMOutcome, LLMResponse, NullObserver

__all__ = ["LLMClient", "LLMEndpoint", "map_openai_error", "outcome_of"]

log = logging.getLogger(__name__)

Provider = Literal["openai", "azure"]
_OPENAI_URL = "https://api.openai.com/v1"
# A breaker that never opens, for clients built without one.
_NEVER_OPENS = 2**31


@dataclass(frozen=True, slots=True)
class LLMEndpoint:
    """Where the model lives and how to reach it.

    ``model`` is the model name (for Azure: the deployment name). ``base_url`` points the
    ``openai`` provider at an OpenAI-compatible server; ``None`` is OpenAI itself. The key is
    kept out of ``repr``.
    """

    api_key: str = field(repr=False)
    model: str
    provider: Provider = "openai"
    base_url: str | None = None
    azure_endpoint: str | None = None
    azure_api_version: str | None = None


def map_openai_error(exc: openai.OpenAIError) -> LLMError:
    """The :mod:`core.errors` exception for a failure of the ``openai`` package.

    Timeouts, connection errors, 408/409 and 5xx → :class:`LLMUnavailable` (retryable);
    429 → :class:`LLMRateLimited` with the server's retry-after; 401/403 →
    :class:`LLMAuthError`; an unreadable response → :class:`LLMBadOutput`; any other 4xx
    (a bad request, an unknown model) → :class:`LLMError`, not retried. Messages carry the
    status and error type, never the request or response bodies.
    """
    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailable("the model endpoint timed out")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable("cannot connect to the model endpoint")
    if isinstance(exc, openai.APIResponseValidationError):
        return LLMBadOutput("the model endpoint's response is not a chat completion")
    if not isinstance(exc, openai.APIStatusError):
        return LLMError(f"model call failed: {type(exc).__name__}")
    status = exc.status_code
    detail = f"model endpoint answered {status}" + (f" ({exc.code})" if exc.code else "")
    retry_after = retry_after_seconds(exc.response.headers)
    if status == 429:
        return LLMRateLimited(detail, retry_after)
    if status in (401, 403):
        return LLMAuthError(detail)
    if status in (408, 409) or status >= 500:
        return LLMUnavailable(detail, retry_after)
    return LLMError(detail)


def outcome_of(error: LLMError) -> LLMOutcome:
    """How a call that failed with ``error`` ended, in the words of
    ``shopbot_llm_calls_total{outcome}`` (and of ``ModelCall.outcome``)."""
    if isinstance(error, LLMBadOutput):
        return "bad_output"
    if isinstance(error, LLMRateLimited):
        return "rate_limited"
    if isinstance(error, LLMUnavailable):
        return "unavailable"
    if isinstance(error, LLMAuthError):
        return "auth"
    return "error"


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "assistant":
        return ChatCompletionAssistantMessageParam(role="assistant", content=message.content)
    return ChatCompletionUserMessageParam(role="user", content=message.content)


def _first_message_text(completion: ChatCompletion) -> str:
    """The text of the first choice; :class:`LLMBadOutput` for no choice, a refusal or no text."""
    # Not a completion at all: the SDK returns the body as it is when a 200 is not JSON (a
    # proxy's HTML page) and does not validate a JSON one (a list, an object without choices).
    if not isinstance(completion, ChatCompletion) or not isinstance(completion.choices, list):
        raise LLMBadOutput("the model endpoint's response is not a chat completion")
    if not completion.choices:
        raise LLMBadOutput("the model answered with no choices")
    message = completion.choices[0].message
    if message.refusal:
        raise LLMBadOutput("the model refused to answer")
    if not message.content or not message.content.strip():
        raise LLMBadOutput("the model answered with no text")
    return message.content


def _parse_object(content: str) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise LLMBadOutput("the model's structured answer is not valid JSON") from exc
    if not isinstance(data, dict):
        raise LLMBadOutput("the model's structured answer is not a JSON object")
    return data


def _tokens(completion: ChatCompletion | None) -> tuple[int, int]:
    """Prompt and completion tokens; 0 where a server reports none (some compatible servers
    send no usage, or a usage without the counts, which the SDK does not validate)."""
    usage = completion.usage if isinstance(completion, ChatCompletion) else None
    if usage is None:
        return 0, 0
    return usage.prompt_tokens or 0, usage.completion_tokens or 0


@dataclass(frozen=True, slots=True)
class _Request:
    system: str
    messages: Sequence[ChatMessage]
    temperature: float
    response_format: ResponseFormat | None
    deadline_seconds: float | None


_Parser = Callable[[ChatCompletion], tuple[str, dict[str, Any] | None]]


def _parse_text(completion: ChatCompletion) -> tuple[str, dict[str, Any] | None]:
    return _first_message_text(completion).strip(), None


def _parse_structured(completion: ChatCompletion) -> tuple[str, dict[str, Any] | None]:
    content = _first_message_text(completion)
    return content, _parse_object(content)


class LLMClient:
    """Chat completions with retries, a circuit breaker and metrics.

    Owned by the app: :meth:`start` before the first call, :meth:`stop` at shutdown (closes the
    HTTP connections). Every failure is raised as an :class:`~core.errors.LLMError`, so the
    caller can fall back to the local pipeline with one ``except``.
    """

    def __init__(
        self,
        endpoint: LLMEndpoint,
        *,
        timeout_seconds: float = 10.0,
        max_tokens: int = 400,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        observer: LLMObserver | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._timeout = timeout_seconds
        self._max_tokens = max_tokens
        self._retry = retry or RetryPolicy()
        self._breaker_model = breaker or CircuitBreaker(_NEVER_OPENS, 0.0)
        self._breakers: dict[str, CircuitBreaker] = {}
        self._observer: LLMObserver = observer or NullObserver()
        self._client: openai.AsyncOpenAI | None = None

    @property
    def model(self) -> str:
        """The model (Azure: deployment) every call asks for."""
        return self._endpoint.model

    def breaker(self, purpose: str) -> CircuitBreaker:
        """The circuit breaker guarding calls for ``purpose``. Each purpose has its own (with
        the settings of the breaker given): an endpoint that answers short structured calls
        but times out on longer text ones must still stop being asked for the text ones."""
        breaker = self._breakers.get(purpose)
        if breaker is None:
            breaker = self._breakers[purpose] = self._breaker_model.fresh()
        return breaker

    async def start(self) -> None:
        """Create the SDK client (no network traffic yet)."""
        if self._client is None:
            self._client = self._sdk_client()

    async def stop(self) -> None:
        """Close the HTTP connections; the client may be started again."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def structured(
        self,
        *,
        purpose: str,
        system: str,
        messages: Sequence[ChatMessage],
        schema_name: str,
        schema: Mapping[str, Any],
        temperature: float = 0.0,
        deadline_seconds: float | None = None,
    ) -> LLMResponse:
        """A JSON object following ``schema`` (structured output, ``strict``).

        ``purpose`` names the stage for the metrics (``extraction``, ``reply`` …).
        ``deadline_seconds`` bounds the whole call, retries and waits included (the client's
        timeout bounds each attempt); past it the call fails with :class:`LLMUnavailable`
        and counts as a failure for the circuit breaker. Use it rather than cancelling the
        call from outside, which the breaker cannot count.
        Raises :class:`LLMBadOutput` when the answer is not a JSON object, and the other
        :class:`LLMError` kinds when the call fails.
        """
        response_format: ResponseFormat = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": dict(schema), "strict": True},
        }
        request = _Request(system, messages, temperature, response_format, deadline_seconds)
        return await self._run(purpose, request, _parse_structured)

    async def text(
        self,
        *,
        purpose: str,
        system: str,
        messages: Sequence[ChatMessage],
        temperature: float = 0.2,
        deadline_seconds: float | None = None,
    ) -> LLMResponse:
        """Plain text (``data`` is ``None``); :class:`LLMBadOutput` when there is none.

        ``purpose`` and ``deadline_seconds`` as for :meth:`structured`.
        """
        request = _Request(system, messages, temperature, None, deadline_seconds)
        return await self._run(purpose, request, _parse_text)

    def _sdk_client(self) -> openai.AsyncOpenAI:
        endpoint = self._endpoint
        if endpoint.provider == "azure":
            if not endpoint.azure_endpoint or not endpoint.azure_api_version:
                raise ValueError("azure needs azure_endpoint and azure_api_version")
            # No azure_deployment: the SDK puts the model name into /deployments/{model}.
            return openai.AsyncAzureOpenAI(
                azure_endpoint=endpoint.azure_endpoint,
                api_version=endpoint.azure_api_version,
                api_key=endpoint.api_key,
                timeout=self._timeout,
                max_retries=0,
            )
        return openai.AsyncOpenAI(
            api_key=endpoint.api_key,
            # Explicit, so the SDK does not pick OPENAI_BASE_URL from the environment.
            base_url=endpoint.base_url or _OPENAI_URL,
            timeout=self._timeout,
            max_retries=0,
        )

    async def _run(self, purpose: str, request: _Request, parse: _Parser) -> LLMResponse:
        breaker = self.breaker(purpose)
        if not breaker.allow():
            self._observe(purpose, "circuit_open", 0.0, None)
            raise LLMUnavailable("the model endpoint's circuit is open")
        started = time.perf_counter()
        completion: ChatCompletion | None = None
        try:
            completion = await self._complete_within_deadline(request)
            content, data = parse(completion)
        except LLMError as error:
            _settle(breaker, error)
            # A bad answer still cost its tokens.
            self._observe(purpose, outcome_of(error), time.perf_counter() - started, completion)
            log.info("llm %s call failed: %s", purpose, error)
            raise
        except BaseException:
            breaker.record_abandoned()
            raise
        breaker.record_success()
        seconds = time.perf_counter() - started
        self._observe(purpose, "ok", seconds, completion)
        return self._response(purpose, completion, content, data, seconds)

    async def _complete_within_deadline(self, request: _Request) -> ChatCompletion:
        if request.deadline_seconds is None:
            return await self._complete(request)
        try:
            async with asyncio.timeout(request.deadline_seconds):
                return await self._complete(request)
        except TimeoutError as exc:
            raise LLMUnavailable("the model call ran past its deadline") from exc

    async def _complete(self, request: _Request) -> ChatCompletion:
        """One chat completion, retried as the policy says."""
        if self._client is None:
            raise RuntimeError("LLMClient.start() was not called")
        params: list[ChatCompletionMessageParam] = [
            ChatCompletionSystemMessageParam(role="system", content=request.system),
            *(_message_param(message) for message in request.messages),
        ]
        attempt = 0
        while True:
            try:
                return await self._client.chat.completions.create(
                    model=self._endpoint.model,
                    messages=params,
                    # max_tokens, not max_completion_tokens: the one that OpenAI-compatible
                    # servers (vLLM, Ollama, llama.cpp) and Azure all accept.
                    max_tokens=self._max_tokens,
                    temperature=request.temperature,
                    response_format=request.response_format or openai.omit,
                )
            except openai.OpenAIError as exc:
                error = map_openai_error(exc)
                delay = self._retry.delay_before_retry(attempt, error)
                if delay is None:
                    raise error from exc
                log.info("llm call failed (%s); retry %d in %.2fs", error, attempt + 1, delay)
            attempt += 1
            await asyncio.sleep(delay)

    def _observe(
        self,
        purpose: str,
        outcome: LLMOutcome,
        seconds: float,
        completion: ChatCompletion | None,
    ) -> None:
        tokens_in, tokens_out = _tokens(completion)
        self._observer.observe_llm_call(
            purpose, self._endpoint.model, outcome, seconds, tokens_in, tokens_out
        )

    def _response(
        self,
        purpose: str,
        completion: ChatCompletion,
        content: str,
        data: dict[str, Any] | None,
        seconds: float,
    ) -> LLMResponse:
        tokens_in, tokens_out = _tokens(completion)
        return LLMResponse(
            content=content,
            data=data,
            model=completion.model or self._endpoint.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_seconds=seconds,
            purpose=purpose,
            finish_reason=completion.choices[0].finish_reason if completion.choices else None,
        )


def _settle(breaker: CircuitBreaker, error: LLMError) -> None:
    """Report a failed call to the breaker: an endpoint that answered is up."""
    if isinstance(error, LLMBadOutput):
        breaker.record_success()
    else:
        breaker.record_failure()
