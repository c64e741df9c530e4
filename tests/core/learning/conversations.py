"""Helpers: drive real conversations through a started runtime's engine and read the log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.learning.mining import Miner, MiningOptions
from core.types import InboundMessage, utcnow
from shopbot.app import Runtime


async def converse(
    runtime: Runtime,
    user: str,
    texts: Sequence[str],
    *,
    start: datetime | None = None,
    gap: timedelta = timedelta(seconds=20),
) -> str:
    """Send ``texts`` as one customer, ``gap`` apart; returns the conversation id."""
    at = start or utcnow() - timedelta(minutes=30)
    conversation = ""
    for text in texts:
        message = InboundMessage("api", user, text, f"{user}-{uuid.uuid4().hex}", received_at=at)
        conversation = (await runtime.engine.handle(message)).conversation_id
        at += gap
    return conversation


async def miner_for(runtime: Runtime, options: MiningOptions | None = None) -> Miner:
    """A miner knowing the runtime's shipped examples and catalog, as ``learn mine`` builds it."""
    products = await runtime.shop.list_products()
    words = {w for p in products for w in (*p.name.split(), *(p.brand or "").split())}
    data = runtime.training_data
    return Miner(
        options or MiningOptions.from_settings(runtime.settings.learning),
        examples=data.intents,
        out_of_scope=data.out_of_scope,
        shop_words=words,
    )
