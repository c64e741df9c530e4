"""Storage cost of one bot turn: load the session, save it, log the inbound and outbound message.

Not a test: a script whose figures can be quoted. Usage, from the repository root::

    .venv/bin/python bench/storage_latency.py [--turns N] [--users N] [--url URL]

Default URL: a fresh SQLite file in a temporary directory (the bot's default backend).
Prints p50/p99/mean in milliseconds for the whole sequence and for each call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))  # run as a plain script: make `core` importable

from core.ports import TurnRecord  # noqa: E402
from core.storage import SQLConversationStore  # noqa: E402
from core.types import Attributes  # noqa: E402

T = TypeVar("T")


async def _timed(samples: list[float], call: Callable[[], Awaitable[T]]) -> T:
    start = time.perf_counter()
    result = await call()
    samples.append((time.perf_counter() - start) * 1000)
    return result


async def _one_turn(
    store: SQLConversationStore, user: str, n: int, s: dict[str, list[float]]
) -> None:
    session = await _timed(s["load"], lambda: store.load_session("api", user))
    session = replace(session, intent="order_status", slots=Attributes(order_number=str(1000 + n)))
    session = await _timed(s["save"], lambda: store.save_session(session))
    inbound = TurnRecord(
        session.conversation_id, "api", user, "in", f"where is order {1000 + n}",
        corrected_text=f"where is order {1000 + n}", intent="order_status", confidence=0.91,
        attributes={"order_number": str(1000 + n)}, state="awaiting_input",
    )  # fmt: skip
    outbound = TurnRecord(
        session.conversation_id, "api", user, "out", "What's the email on the order?",
        state="awaiting_input", outcome="awaiting_input", latency_ms=1.0,
    )  # fmt: skip
    await _timed(s["log_in"], lambda: store.log_turn(inbound))
    await _timed(s["log_out"], lambda: store.log_turn(outbound))


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<8} p50 {p50:7.3f}  p99 {p99:7.3f}  mean {statistics.fmean(samples):7.3f}"


async def run(url: str, turns: int, users: int) -> None:
    store = SQLConversationStore(url)
    await store.start()
    samples: dict[str, list[float]] = {k: [] for k in ("load", "save", "log_in", "log_out")}
    whole: list[float] = []
    try:
        for n in range(turns // 10):  # warm-up: pool, statement cache, page cache
            await _one_turn(store, f"warm{n % users}", n, {k: [] for k in samples})
        for n in range(turns):
            start = time.perf_counter()
            await _one_turn(store, f"user{n % users}", n, samples)
            whole.append((time.perf_counter() - start) * 1000)
    finally:
        await store.stop()
    print(f"{turns} turns, {users} users, {url.split('://')[0]} (milliseconds)")
    print(_row("turn", whole))
    for name, values in samples.items():
        print(_row(name, values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        asyncio.run(run(url, args.turns, args.users))


if __name__ == "__main__":
    main()
