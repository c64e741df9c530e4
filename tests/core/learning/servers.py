"""Helpers: shopbot servers sharing one conversation database, as a scaled-out shop runs them,
following the active intent model version closely (hot reload every 50 ms)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from core.intents import TrainingData
from core.storage import SQLConversationStore
from core.types import InboundMessage
from shopbot.app import Runtime, build_runtime
from tests.conftest import TestDatabase, runtime_settings

TWO_INTENTS = TrainingData(
    intents={
        "order_status": (
            "where is my order",
            "track my parcel",
            "has my package shipped",
            "when does my order arrive",
            "delivery status please",
            "where is order 1002",
        ),
        "greeting": ("hello", "hi there", "good morning", "hey", "hi, anyone here", "hello bot"),
    },
    out_of_scope=("what's the weather", "tell me a joke", "who won the match", "sing a song"),
)
"""A tiny training file of two intents: quick to train, and not the shipped file's intents."""


async def start_server(database: TestDatabase, model_dir: Path, data: Path) -> Runtime:
    """A started runtime on ``database`` with its own other files under ``data``."""
    await asyncio.to_thread(data.mkdir)
    settings = runtime_settings(model_dir, data, learning={"reload_interval_seconds": 0.05})
    runtime = build_runtime(settings)
    runtime.store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await runtime.start()
    return runtime


async def intent_of(runtime: Runtime, text: str) -> str | None:
    """The intent ``runtime`` serves for ``text`` from a new customer."""
    message = InboundMessage("api", f"customer-{uuid.uuid4().hex}", text)
    result = await runtime.engine.handle(message)
    return result.understanding.classification.intent
