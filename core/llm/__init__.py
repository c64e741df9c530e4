"""Language-model access: one client for OpenAI, Azure OpenAI and OpenAI-compatible servers,
with retries, a circuit breaker, metrics and prompt-safety helpers.

The stages built on it (extraction, understanding fallback, grounded replies) catch
:class:`~core.errors.LLMError` and fall back to the local pipeline.
"""

from core.llm.breaker import BreakerState, CircuitBreaker
from core.llm.client import LLMClient, LLMEndpoint, map_openai_error, outcome_of
from core.llm.prompts import as_data, data_rule, mask_personal
from core.llm.retry import RetryPolicy, retry_after_seconds
from core.llm.types import (
    ChatMessage,
    LLMObserver,
    LLMOutcome,
    LLMResponse,
    NullObserver,
    Role,
)

__all__ = [
    "BreakerState",
    "ChatMessage",
    "CircuitBreaker",
    "LLMClient",
    "LLMEndpoint",
    "LLMObserver",
    "LLMOutcome",
    "LLMResponse",
    "NullObserver",
    "RetryPolicy",
    "Role",
    "as_data",
    "data_rule",
    "map_openai_error",
    "mask_personal",
    "outcome_of",
    "retry_after_seconds",
]
