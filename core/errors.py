"""One root exception, grouped by what the caller should do about it."""

from __future__ import annotations

__all__ = [
    "CRMError",
    "CRMUnavailable",
    "ChannelAuthError",
    "ChannelError",
    "ChannelRateLimited",
    "ChannelTimeout",
    "ConcurrentUpdate",
    "ConfigError",
    "LLMAuthError",
    "LLMBadOutput",
    "LLMError",
    "LLMRateLimited",
    "LLMUnavailable",
    "ShopbotError",
    "StorageError",
]


class ShopbotError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(ShopbotError):
    """The configuration is invalid; raised at start-up, naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config {key}: {problem}")
        self.key = key
        self.problem = problem


class StorageError(ShopbotError):
    """The conversation store failed."""


class ConcurrentUpdate(StorageError):
    """A session row changed between load and save; the turn must be retried."""


class ChannelError(ShopbotError):
    """A messaging platform call failed."""


class ChannelAuthError(ChannelError):
    """The platform rejected our credentials."""


class ChannelRateLimited(ChannelError):
    """The platform asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelTimeout(ChannelError):
    """The platform did not answer in time."""


class CRMError(ShopbotError):
    """The shop backend failed."""


class CRMUnavailable(CRMError):
    """The shop backend cannot be reached or answered with an error."""


class LLMError(ShopbotError):
    """A language-model call failed."""


class LLMUnavailable(LLMError):
    """The model endpoint cannot be reached, timed out, answered 5xx, or its circuit is open.

    Retryable; ``retry_after`` is the server's hint in seconds when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRateLimited(LLMError):
    """The model endpoint answered 429: too many requests or tokens, or quota exhausted."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMAuthError(LLMError):
    """The endpoint refused our key (401/403): a configuration problem, never retried."""


class LLMBadOutput(LLMError):
    """The model answered, but not with what was asked: malformed JSON, a refusal, no choice."""
