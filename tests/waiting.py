"""Waiting for background work (dispatcher, workers, reloads) in tests, without sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

__all__ = ["eventually"]


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, seconds: float = 15
) -> None:
    """Wait until ``check`` (plain or async) holds, polling every 10 ms for up to
    ``seconds``; fail with ``never happened: <what>`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")
