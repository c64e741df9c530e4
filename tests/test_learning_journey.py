"""The learning loop end to end, as a shop owner lives it: customers are not understood, the
owner runs ``shopbot learn mine``, ``learn review``, ``learn train`` and ``model list``, and the
bot, started again, understands a phrasing no one taught it - while the numbers say that
nothing got worse."""

from __future__ import annotations

import re
from pathlib import Path

from core.types import InboundMessage, Outcome, TurnResult
from shopbot.app import Runtime, build_runtime
from tests.conftest import runtime_settings
from tests.core.learning.conversations import converse
from tests.shopbot_cli import run_shopbot

# Ways of saying "my order has not come" the shipped model does not understand, written for
# this test.
NOT_UNDERSTOOD = (
    "the goods I bought haven't shown up",
    "still no sign of the stuff I bought",
    "what happened to the things I bought",
    "the items I paid for have not come",
    "where did the goods I paid for go",
    "the box i paid for is nowhere to be seen",
    "the gear I bought still hasn't come",
    "no sign yet of the shoes I paid for",
    "the stuff I bought last week is not here",
    "the goods I paid for never arrived",
)
UNTAUGHT = "no sign of the items I bought"
"""Another one, in no training file and no conversation below."""


async def _ask(runtime: Runtime, user: str, text: str) -> TurnResult:
    return await runtime.engine.handle(InboundMessage("api", user, text, f"{user}-1"))


async def test_conversations_teach_the_bot_and_the_promoted_model_serves_after_a_restart(
    model_dir: Path, tmp_path: Path
) -> None:
    settings = runtime_settings(model_dir, tmp_path)
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        before = await _ask(runtime, "probe-before", UNTAUGHT)
        # Each customer is not understood, then says it the way the bot knows.
        for number, text in enumerate(NOT_UNDERSTOOD):
            await converse(runtime, f"customer-{number}", [text, "where is my order"])
    finally:
        await runtime.stop()
    assert before.understanding.classification.intent is None
    assert before.outcome is not Outcome.ANSWERED

    mined = run_shopbot(settings, "learn", "mine")
    found = re.search(r"(\d+) stored", mined)
    assert found is not None and int(found.group(1)) >= 8, mined
    reviewed = run_shopbot(settings, "learn", "review", stdin="a\n" * int(found.group(1)))
    assert f"Reviewed: {found.group(1)} accepted" in reviewed

    trained = run_shopbot(settings, "learn", "train")
    assert "Stored the shipped model as v1 (active)." in trained
    assert "v2 promoted and active" in trained
    # In numbers: the whole evaluation set and the hand-written set alone did not get worse.
    for row in ("macro-F1", "macro-F1, evaluation.yaml only"):
        line = re.search(rf"^{re.escape(row)} +([\d.]+) +([\d.]+)", trained, re.M)
        assert line is not None, trained
        assert float(line.group(2)) >= float(line.group(1)), line.group(0)
    listing = run_shopbot(settings, "model", "list").splitlines()
    assert listing[2].split()[:3] == ["*", "v2", "promoted"]

    restarted = build_runtime(settings)
    await restarted.start()
    try:
        assert restarted.model_version == "v2"
        after = await _ask(restarted, "probe-after", UNTAUGHT)
    finally:
        await restarted.stop()
    assert after.understanding.classification.intent == "order_status"
    assert after.awaiting == "order_number"  # the bot goes on to ask which order
