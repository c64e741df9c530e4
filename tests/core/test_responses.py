"""Reply templates: the shipped file is valid, and a broken edit is caught at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.settings import CONFIG_DIR
from core.responses import TEMPLATE_FIELDS, load_responses

SHIPPED = CONFIG_DIR / "responses.yaml"
INTENTS = frozenset(
    {
        "order_status",
        "product_info",
        "return_policy",
        "tech_support",
        "greeting",
        "goodbye",
        "human_agent",
    }
)


def _edited(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["templates"].update(change)
    path = tmp_path / "responses.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_templates_cover_every_reply_and_topic() -> None:
    responses = load_responses(SHIPPED, intents=INTENTS)
    assert set(responses.templates) == set(TEMPLATE_FIELDS)
    assert responses.topic_intent("order STATUS ") == "order_status"
    assert responses.topic_intent("order status please") is None


def test_rendering_fills_the_facts() -> None:
    responses = load_responses(SHIPPED)
    text = responses.render("ask_email", order_number="1003")
    assert "#1003" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ask_email": "Email for {order_id}?"}, r"templates.ask_email: unknown placeholder"),
        ({"goodbye": ""}, r"templates.goodbye: missing or empty"),
        ({"order_shipped": "Shipped {0}"}, r"templates.order_shipped: unknown placeholder"),
        ({"product": "{name.__class__}"}, r"templates.product: unknown placeholder"),
    ],
)
def test_a_broken_template_is_named(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_responses(_edited(tmp_path, change))


def test_a_topic_for_an_unknown_intent_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["topics"]["Gift wrapping"] = "gift_wrap"
    path = tmp_path / "responses.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match="gift_wrap"):
        load_responses(path, intents=INTENTS)
