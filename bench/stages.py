"""Per-stage latency, in process, on the event loop, the way the server runs each turn.

Each stage of the real runtime (built by the composition root, nothing re-implemented here) is
awaited once per corpus message and timed with ``time.perf_counter_ns``: spelling,
classification, extraction, the CRM lookups, the storage round of one turn, and the whole turn
without HTTP (``Engine.handle``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from bench.corpus import Conversation, ShopFacts, flatten
from bench.stats import Timing, summarise
from config.settings import Settings, load_settings
from core.ports import TurnRecord
from core.types import InboundMessage
from core.understanding import Understander
from shopbot.app import Runtime

__all__ = [
    "bench_settings",
    "measure_bitext",
    "measure_stages",
]

T = TypeVar("T")


def bench_settings(data_dir: Path, database: str = "shopbot.sqlite3") -> Settings:
    """Default settings (no environment) on a private data directory."""
    url = f"sqlite+aiosqlite:///{data_dir / database}"
    return load_settings(
        env={},
        data_dir=data_dir,
        storage={"url": url},
        crm={"demo_database": data_dir / "demo_shop.sqlite3"},
    )


async def _timed(name: str, items: Iterable[T], call: Callable[[T], Awaitable[object]]) -> Timing:
    """Await ``call(item)`` for each item, timing each call (wall and process CPU time)."""
    wall: list[int] = []
    cpu: list[int] = []
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    for item in items:
        cpu_started = cpu_clock()
        started = clock()
        await call(item)
        wall.append(clock() - started)
        cpu.append(cpu_clock() - cpu_started)
    return summarise(name, wall, cpu)


async def _nlu_stages(runtime: Runtime, texts: Sequence[str], prefix: str = "") -> list[Timing]:
    """Spelling, classification and extraction, each timed on its own over ``texts``."""
    understander = runtime.engine._understander  # the stages as the engine wires them
    assert isinstance(understander, Understander), "the stage bench runs without a model"
    corrected: list[str] = []
    intents: list[str | None] = []

    async def spell(text: str) -> None:
        corrected.append((await understander.spelling.correct(text)).text)

    async def classify(text: str) -> None:
        intents.append((await understander.classifier.classify(text)).intent)

    spelling = await _timed(f"{prefix}spelling", texts, spell)
    classification = await _timed(f"{prefix}classification", corrected, classify)
    extraction = await _timed(
        f"{prefix}extraction",
        range(len(texts)),
        lambda i: understander.extractor.extract(texts[i], corrected[i], intents[i]),
    )
    return [spelling, classification, extraction]


async def _crm(runtime: Runtime, facts: ShopFacts, rounds: int) -> list[Timing]:
    shop = runtime.shop
    # Known orders and numbers that do not exist: both paths are taken by real users.
    numbers = [number for number, _ in facts.orders] + ["999", "4242", "77777"]
    skus = [*facts.skus, "NO-SUCH-SKU"]
    orders = await _timed("crm get_order", (numbers * rounds)[: rounds * 3], shop.get_order)
    products = await _timed("crm get_product", (skus * rounds)[: rounds * 3], shop.get_product)
    return [orders, products]


async def _storage(runtime: Runtime, users: Sequence[str]) -> Timing:
    """One turn's storage work as the engine does it: load the session (a cache miss), then
    save it and log both directions in one atomic write.
    """
    store = runtime.store

    async def one_turn(user_id: str) -> None:
        session = await store.load_session("bench", user_id)
        common: dict[str, Any] = {
            "conversation_id": session.conversation_id,
            "channel": "bench",
            "user_id": user_id,
        }
        records = [
            TurnRecord(**common, direction="in", text="where is my order"),
            TurnRecord(**common, direction="out", text="What's your order number?", latency_ms=1),
        ]
        await store.commit_turn(replace(session, intent="order_status"), records)

    return await _timed("storage (turn)", users, one_turn)


async def _turns(
    runtime: Runtime, corpus: Sequence[Conversation], outcomes: Counter[str]
) -> tuple[Timing, Timing]:
    engine = runtime.engine
    messages = [
        InboundMessage(channel="bench", user_id=conversation.user_id, text=text)
        for conversation in corpus
        for text in conversation.messages
    ]

    async def turn(message: InboundMessage) -> None:
        outcomes[str((await engine.handle(message)).outcome)] += 1

    understand = await _timed("nlu (3 stages)", [m.text for m in messages], engine.understand)
    return understand, await _timed("whole turn", messages, turn)


async def _warm_up(runtime: Runtime, warmup: Sequence[Conversation]) -> None:
    for conversation in warmup:
        for text in conversation.messages:
            await runtime.engine.handle(
                InboundMessage(channel="bench", user_id=f"warm-{conversation.user_id}", text=text)
            )


async def measure_stages(
    runtime: Runtime,
    corpus: Sequence[Conversation],
    warmup: Sequence[Conversation],
    facts: ShopFacts,
    outcomes: Counter[str],
) -> list[Timing]:
    """Time every stage over ``corpus`` after running ``warmup`` through whole turns.

    The warm-up corpus has its own seed, so the spelling cache holds its words, not the
    measured ones: measured messages still pay for the typos they bring. ``outcomes`` counts
    how the measured turns ended (answered, clarified, error...), to tell a fast error path
    from a fast answer.
    """
    await _warm_up(runtime, warmup)
    texts = flatten(corpus)
    timings = await _nlu_stages(runtime, texts)
    timings += await _crm(runtime, facts, rounds=max(50, len(texts) // 3))
    users = [f"store-{i % (len(corpus) or 1)}" for i in range(len(texts))]
    timings.append(await _storage(runtime, users))
    timings.extend(await _turns(runtime, corpus, outcomes))
    return timings


async def measure_bitext(runtime: Runtime, datasets: Path, limit: int | None) -> list[Timing]:
    """Spelling/classification/extraction over Bitext test utterances, read at run time.

    Returns nothing when the dataset is absent: it is third-party data that may only be read
    by the benchmark, never copied into the project.
    """
    path = datasets / "bitext_customer_support" / "test.jsonl"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle if line.strip()]
    return await _nlu_stages(runtime, texts[:limit] if limit else texts, prefix="bitext ")
