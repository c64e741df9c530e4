"""What goes into and comes out of a language-model call, and who is told about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["ChatMessage", "LLMObserver", "LLMOutcome", "LLMResponse", "NullObserver", "Role"]

Role = Literal["user", "assistant"]

LLMOutcome = Literal[
    "ok", "bad_output", "rate_limited", "unavailable", "auth", "error", "circuit_open"
]
"""How one call ended, as counted in ``shopbot_llm_calls_total{outcome}``."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One earlier message of the conversation: the customer's (``user``) or the bot's."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class LLMResponse:
    """The model's answer to one call, with what it cost.

    ``data`` is the parsed JSON object of a structured call (``None`` for a text call); it is
    *not* validated against the schema beyond being a JSON object: the stage that asked checks
    every value it uses.
    """

    content: str
    data: Mapping[str, Any] | None
    model: str
    tokens_in: int
    tokens_out: int
    latency_seconds: float
    purpose: str
    finish_reason: str | None = field(default=None)


class LLMObserver(Protocol):
    """Told about every call once it ends (``core.metrics.Metrics`` implements it)."""

    def observe_llm_call(
        self,
        purpose: str,
        model: str,
        outcome: LLMOutcome,
        seconds: float,
        tokens_in: int,
        tokens_out: int,
    ) -> None:
        """Record one call: what it was for, how it ended, how long it took, tokens used."""


class NullObserver:
    """An observer that records nothing."""

    def observe_llm_call(
        self,
        purpose: str,
        model: str,
        outcome: LLMOutcome,
        seconds: float,
        tokens_in: int,
        tokens_out: int,
    ) -> None:
        """Ignore the call."""
