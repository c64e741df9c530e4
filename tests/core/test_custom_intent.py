"""A shop adds an intent with examples and a fixed answer, through config files only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.settings import CONFIG_DIR, load_settings
from core.errors import ConfigError
from core.types import InboundMessage
from shopbot.app import build_runtime

SHIPPING_EXAMPLES = [
    "how much is shipping",
    "what does delivery cost",
    "do you charge for shipping",
    "is shipping free",
    "shipping costs to the UK",
    "how much do you charge for postage",
    "what are your delivery fees",
    "is there free delivery over a certain amount",
]
ANSWER = "Shipping is free on orders over $50; otherwise it is a flat $4.95."


def _shop_config(tmp_path: Path, answers: dict[str, str]) -> dict[str, object]:
    training = yaml.safe_load((CONFIG_DIR / "intents.yaml").read_text(encoding="utf-8"))
    training["intents"]["shipping_costs"] = {
        "description": "What delivery costs.",
        "examples": SHIPPING_EXAMPLES,
    }
    (tmp_path / "intents.yaml").write_text(yaml.safe_dump(training), encoding="utf-8")
    responses = yaml.safe_load((CONFIG_DIR / "responses.yaml").read_text(encoding="utf-8"))
    responses["answers"] = answers
    (tmp_path / "responses.yaml").write_text(yaml.safe_dump(responses), encoding="utf-8")
    return {
        "data_dir": tmp_path,
        "nlu": {"training_data": tmp_path / "intents.yaml"},
        "responses": tmp_path / "responses.yaml",
    }


async def test_new_intent_with_a_fixed_answer_is_served(tmp_path: Path) -> None:
    runtime = build_runtime(
        load_settings(env={}, **_shop_config(tmp_path, {"shipping_costs": ANSWER}))
    )
    await runtime.start()
    try:
        message = InboundMessage(
            channel="test", user_id="u", text="how much do you charge for shipping?"
        )
        result = await runtime.engine.handle(message)
        assert result.understanding.classification.intent == "shipping_costs"
        assert [reply.text for reply in result.replies] == [ANSWER]
        assert result.state == "answered"
    finally:
        await runtime.stop()


def test_an_answer_for_an_unknown_intent_fails_at_start(tmp_path: Path) -> None:
    settings = load_settings(env={}, **_shop_config(tmp_path, {"opening_hours": "9 to 5"}))
    with pytest.raises(ConfigError, match=r"responses.*opening_hours"):
        build_runtime(settings)
