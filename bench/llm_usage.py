"""Model usage: calls per user message, and the latency a model adds to a turn (issue 5).

The real runtime (``shopbot.app.build_runtime``, the default settings of ``bench_settings`` plus
the model's environment: ``OPENAI_API_KEY`` and ``SHOPBOT_LLM_BASE_URL``) plays whole corpus
conversations against the fake OpenAI-compatible server of the tests
(``tests.core.llm.fake_openai``), started in process on 127.0.0.1. The real ``openai`` client
talks to it over HTTP, so every call is a real request. The fake answers like a cooperative
model, so the conversations go on as they would with real traffic:

- an understanding request (structured output) gets the intent its keyword table finds in the
  customer message of the prompt, or ``"unknown"`` (typos, gibberish, off-topic); a product
  when a catalog name from the prompt occurs in the message; no other attribute (the local
  extractor reads order numbers and emails from the text as typed);
- a phrasing request (text) gets the prompt's ``<answer>`` block back, word for word, so the
  fact check passes and no call is wasted on a rejected draft.

Calls are counted per turn from the turn log (each inbound row stores its model calls, with
their purpose), and cross-checked against the requests the fake received. Each run has its own
database; each conversation's messages are played in order.

1. ``default`` (``llm.cascade_threshold`` 0.75, ``llm.phrasing`` articles_and_other_languages)
   and 2. ``phrasing all``: the whole corpus, ``concurrency`` conversations at a time, the fake
   answering at once: calls only (their latencies include the queueing of 16 conversations on
   one event loop and are no user's wait);
3. ``local only`` (no key) and 4. ``default, 0.8 s`` (the fake answering in ``model_latency``
   seconds): the first ``latency_conversations`` conversations, one conversation at a time, so
   a turn's latency is what its customer waits on an idle server, and the difference between
   the two is what the model adds.

The naive design (GPT extracts on every message and writes every reply) is 2 calls per
message by construction: ``messages x 2``. Importing the fake from ``tests`` is deliberate: the
benchmark measures against the very server the tests trust, not a second copy of it.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.corpus import Conversation
from bench.stats import percentile
from config.settings import Settings, load_settings
from core.storage import SQLConversationStore
from core.types import InboundMessage
from shopbot.app import build_runtime
from tests.core.llm.fake_openai import FakeOpenAI, RecordedRequest, Reply

__all__ = [
    "CALLS_PER_MESSAGE_TARGET",
    "LLMUsage",
    "Run",
    "measure_llm_usage",
    "usage_table",
]

CALLS_PER_MESSAGE_TARGET = 0.35
NAIVE_CALLS_PER_MESSAGE = 2
DEFAULT_PHRASING = "articles_and_other_languages"
_KEY = "sk-bench-not-a-key"

# The fake model's reading of a message: the first intent with a keyword in it wins.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tech_support", ("pair", "charging", "reset", "sync", "turning off", "no sound", "password",
                      "not working", "won't", "broken", "bluetooth")),
    ("return_policy", ("return", "refund", "send something back", "send it back")),
    ("order_status", ("order", "package", "parcel", "track", "shipped", "delivery", "arrived",
                      "showed up")),
    ("product_info", ("how much", "price", "in stock", "features", "sell", "product")),
    ("human_agent", ("human", "real person", "agent")),
    ("goodbye", ("bye", "that's all", "thank")),
    ("greeting", ("hello", "hi", "hey", "good morning")),
)  # fmt: skip
_CATALOG_LINE = re.compile(r"^- (\S+): (.+)$", re.MULTILINE)


def _block(text: str, label: str) -> str:
    """The content of the prompt's ``<label>`` data block (``core.llm.prompts.as_data``)."""
    found = re.search(rf"<{label}>\n(.*)\n</{label}>", text, re.DOTALL)
    return found.group(1) if found else ""


def _has(text: str, keyword: str) -> bool:
    return re.search(rf"\b{re.escape(keyword)}\b", text) is not None


def _reading(request: RecordedRequest) -> dict[str, str | None]:
    """The fake's structured answer to an understanding request."""
    system = str(request.messages[0]["content"])
    message = _block(str(request.messages[-1]["content"]), "customer_message").lower()
    schema = (request.response_format or {}).get("json_schema", {}).get("schema", {})
    known = set(schema.get("properties", {}).get("intent", {}).get("enum", []))
    found = (name for name, words in _KEYWORDS if any(_has(message, w) for w in words))
    intent = next((name for name in found if name in known), "unknown")
    product = next(
        (sku for sku, name in _CATALOG_LINE.findall(system) if name.lower() in message), None
    )
    empty = dict.fromkeys(("order_number", "email", "phone", "problem"))
    return {"intent": intent, "product": product, **empty}


def _answer(fake: FakeOpenAI, request: RecordedRequest) -> Reply:
    if request.response_format is not None:
        return fake.json_reply(_reading(request))
    return fake.text_reply(_block(str(request.messages[-1]["content"]), "answer"))


@dataclass(frozen=True, slots=True)
class Run:
    """One pass of conversations through a runtime: its model calls and turn latencies."""

    name: str
    conversations: int
    messages: int
    concurrency: int
    """Conversations played at a time (each one's messages in order)."""
    model_latency_seconds: float | None
    """How long the fake took per answer; ``None``: no model."""
    calls: dict[str, int]
    """Model calls by purpose (``understand``, ``phrase``), from the turn log."""
    outcomes: dict[str, int]
    """Model calls by outcome (``ok``, ``rejected``, ``unavailable``…)."""
    calls_per_message: float
    naive_calls: int
    """What the naive design makes of the same messages: 2 per message."""
    requests_at_fake: int
    """Requests the fake received (equals the calls when nothing was retried)."""
    turns_with_model: int
    waited_share: float
    """The share of turns that made at least one model call."""
    p50_ms: float
    p95_ms: float
    mean_ms: float
    waited_p50_ms: float
    """Turn latency of the turns that made at least one model call."""
    waited_p95_ms: float


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """The runs: call counts (default, phrasing all), then timed local vs model turns."""

    runs: list[Run]

    def run(self, name: str) -> Run:
        return next(run for run in self.runs if run.name == name)

    @property
    def default_calls_per_message(self) -> float:
        return self.run("default").calls_per_message


def _settings(data_dir: Path, database: str, env: dict[str, str]) -> Settings:
    """``bench.stages.bench_settings`` with an environment (the model's key and URL)."""
    return load_settings(
        env=env,
        data_dir=data_dir,
        storage={"url": f"sqlite+aiosqlite:///{data_dir / database}"},
        crm={"demo_database": data_dir / "demo_shop.sqlite3"},
    )


@dataclass(slots=True)
class _Turn:
    conversation_id: str
    latency_ns: int


async def _play(
    settings: Settings, corpus: Sequence[Conversation], concurrency: int
) -> tuple[list[_Turn], list[tuple[str, ...]]]:
    """Every turn's latency, and (after the run, untimed) the purposes of its model calls."""
    runtime = build_runtime(settings)
    await runtime.start(platforms=False)
    try:
        engine = runtime.engine
        played: list[list[_Turn]] = [[] for _ in corpus]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(corpus)):
            queue.put_nowait(index)

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                conversation = corpus[index]
                for text in conversation.messages:
                    message = InboundMessage("bench", conversation.user_id, text)
                    started = time.perf_counter_ns()
                    result = await engine.handle(message)
                    elapsed = time.perf_counter_ns() - started
                    played[index].append(_Turn(result.conversation_id, elapsed))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        turns = [turn for conversation in played for turn in conversation]
        return turns, await _calls_per_turn(runtime.store, turns)
    finally:
        await runtime.stop()


async def _calls_per_turn(
    store: SQLConversationStore, turns: Sequence[_Turn]
) -> list[tuple[str, ...]]:
    """The ``purpose/outcome`` of each turn's model calls, read from its inbound log row."""
    rows: dict[str, list[tuple[str, ...]]] = {}
    for conversation_id in dict.fromkeys(turn.conversation_id for turn in turns):
        records = await store.turns(conversation_id)
        rows[conversation_id] = [
            tuple(f"{call.purpose}/{call.outcome}" for call in record.model_calls)
            for record in records
            if record.direction == "in"
        ]
    return [rows[turn.conversation_id].pop(0) for turn in turns]


def _summary(
    name: str,
    turns: Sequence[_Turn],
    calls: Sequence[tuple[str, ...]],
    fake: FakeOpenAI | None,
    concurrency: int,
) -> Run:
    latencies = sorted(turn.latency_ns / 1e6 for turn in turns)
    waited = sorted(t.latency_ns / 1e6 for t, made in zip(turns, calls, strict=True) if made)
    flat = [call for made in calls for call in made]
    messages = len(turns)
    return Run(
        name=name,
        conversations=len({turn.conversation_id for turn in turns}),
        messages=messages,
        concurrency=concurrency,
        model_latency_seconds=fake.latency_seconds if fake else None,
        calls=dict(Counter(call.split("/")[0] for call in flat)),
        outcomes=dict(Counter(call.split("/")[1] for call in flat)),
        calls_per_message=len(flat) / messages if messages else math.nan,
        naive_calls=messages * NAIVE_CALLS_PER_MESSAGE,
        requests_at_fake=len(fake.requests) if fake else 0,
        turns_with_model=len(waited),
        waited_share=len(waited) / messages if messages else math.nan,
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        mean_ms=sum(latencies) / messages if messages else math.nan,
        waited_p50_ms=percentile(waited, 0.50),
        waited_p95_ms=percentile(waited, 0.95),
    )


async def _model_run(
    name: str,
    data_dir: Path,
    corpus: Sequence[Conversation],
    concurrency: int,
    *,
    phrasing: str,
    latency: float,
) -> Run:
    fake = FakeOpenAI()
    fake.latency_seconds = latency
    fake.respond_with(lambda request: _answer(fake, request))
    await fake.start()
    try:
        env = {
            "OPENAI_API_KEY": _KEY,
            "SHOPBOT_LLM_BASE_URL": fake.base_url,
            "SHOPBOT_LLM_PHRASING": phrasing,
        }
        database = f"llm-{re.sub(r'[^a-z0-9]+', '-', name)}.sqlite3"
        turns, calls = await _play(_settings(data_dir, database, env), corpus, concurrency)
    finally:
        await fake.stop()
    return _summary(name, turns, calls, fake, concurrency)


async def measure_llm_usage(
    data_dir: Path,
    corpus: Sequence[Conversation],
    *,
    latency_conversations: int,
    concurrency: int = 16,
    model_latency: float = 0.8,
) -> LLMUsage:
    """Count the model calls over ``corpus`` (default settings and phrasing ``all``, the fake
    answering at once, ``concurrency`` conversations at a time), then time the turns of its
    first ``latency_conversations`` conversations one conversation at a time, without a model
    and with one answering in ``model_latency`` seconds."""
    count = partial(_model_run, data_dir=data_dir, corpus=corpus, concurrency=concurrency)
    runs = [
        await count("default", phrasing=DEFAULT_PHRASING, latency=0),
        await count("phrasing all", phrasing="all", latency=0),
    ]
    timed = corpus[:latency_conversations]
    turns, calls = await _play(_settings(data_dir, "llm-local-only.sqlite3", {}), timed, 1)
    runs.append(_summary("local only", turns, calls, None, 1))
    runs.append(
        await _model_run(
            f"default, {model_latency:g} s",
            data_dir,
            timed,
            1,
            phrasing=DEFAULT_PHRASING,
            latency=model_latency,
        )
    )
    return LLMUsage(runs)


def usage_table(usage: LLMUsage) -> list[str]:
    """The printed table: calls per message by purpose, then latency with and without."""
    lines = [
        "model usage (fake OpenAI-compatible model on 127.0.0.1, real openai client)",
        f"{'run':<16}{'convs':>6}{'msgs':>6}{'at once':>8}{'underst':>8}{'phrase':>7}"
        f"{'calls/msg':>10}{'waited':>8}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}",
    ]
    for run in usage.runs:
        # With many conversations at once a turn's latency is mostly queueing: not shown.
        timed = run.concurrency == 1
        latency = [
            f"{ms:>9.2f}" if timed else f"{'-':>9}" for ms in (run.p50_ms, run.p95_ms, run.mean_ms)
        ]
        lines.append(
            f"{run.name:<16}{run.conversations:>6}{run.messages:>6}{run.concurrency:>8}"
            f"{run.calls.get('understand', 0):>8}{run.calls.get('phrase', 0):>7}"
            f"{run.calls_per_message:>10.3f}{run.waited_share:>8.1%}"
            f"{''.join(latency)}"
        )
    default, everything = usage.run("default"), usage.run("phrasing all")
    timed_local, timed_model = usage.runs[-2], usage.runs[-1]
    ok = "pass" if default.calls_per_message <= CALLS_PER_MESSAGE_TARGET else "FAIL"
    lines += [
        f"calls per message: default {default.calls_per_message:.3f} "
        f"(target <= {CALLS_PER_MESSAGE_TARGET}) {ok}, phrasing all "
        f"{everything.calls_per_message:.3f}, naive design {default.naive_calls} calls = "
        f"{NAIVE_CALLS_PER_MESSAGE:.1f} (extraction + reply on every message); "
        f"the fake received {default.requests_at_fake} requests; call outcomes "
        + ", ".join(f"{k} {v}" for k, v in sorted(default.outcomes.items())),
        f"added per turn by a {timed_model.model_latency_seconds:g} s model (one conversation "
        f"at a time): p50 {timed_model.p50_ms - timed_local.p50_ms:+.1f} ms, "
        f"p95 {timed_model.p95_ms - timed_local.p95_ms:+.1f} ms, "
        f"mean {timed_model.mean_ms - timed_local.mean_ms:+.1f} ms; "
        f"{timed_model.waited_share:.1%} of turns waited for the model "
        f"(those: p50 {timed_model.waited_p50_ms:.0f} ms, p95 {timed_model.waited_p95_ms:.0f} ms)",
    ]
    return lines
