"""Reply templates: shop-editable wording, filled only with facts the code retrieved."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["TEMPLATE_FIELDS", "Responses", "load_responses"]

# Every template the engine renders, with the placeholders it may use.
TEMPLATE_FIELDS: Mapping[str, frozenset[str]] = {
    "greeting": frozenset(),
    "goodbye": frozenset(),
    "empty": frozenset(),
    "clarify": frozenset(),
    "clarify_again": frozenset(),
    "handoff": frozenset(),
    "handoff_pending": frozenset(),
    "error": frozenset(),
    "ask_order_number": frozenset(),
    "ask_email": frozenset({"order_number"}),
    "verification_failed": frozenset({"order_number"}),
    "verification_locked": frozenset({"minutes", "order_number"}),
    "order_not_linked": frozenset({"order_number"}),
    "order_processing": frozenset({"order_number", "ship_window", "items"}),
    "order_shipped": frozenset(
        {"order_number", "shipped_date", "carrier", "tracking_number", "arrival", "items"}
    ),
    "order_delivered": frozenset({"order_number", "delivered_date", "items"}),
    "order_cancelled": frozenset({"order_number", "cancelled_date", "refund_note", "items"}),
    "order_status_staff": frozenset(
        {
            "order_number",
            "customer_name",
            "customer_email",
            "placed_date",
            "status",
            "items",
            "tracking",
        }
    ),
    "order_not_found_staff": frozenset({"order_number"}),
    "ask_product": frozenset({"product_list"}),
    "product": frozenset({"name", "price", "availability", "features"}),
    "product_in_stock": frozenset(),
    "product_low_stock": frozenset({"stock"}),
    "product_out_of_stock": frozenset({"restock_date"}),
    "product_out_of_stock_undated": frozenset(),
    "return_policy": frozenset(
        {
            "window_days",
            "conditions",
            "free_return_reasons",
            "return_fee",
            "refund_time",
            "exclusions",
        }
    ),
    "return_eligible": frozenset({"order_number", "deadline", "days_left", "conditions"}),
    "return_expired": frozenset({"order_number", "delivered_date", "window_days", "deadline"}),
    "return_not_delivered": frozenset({"order_number", "window_days"}),
    "return_cancelled": frozenset({"order_number", "refund_note"}),
    "return_final_sale": frozenset({"order_number", "items"}),
    "ask_problem": frozenset(),
    "article": frozenset({"title", "steps"}),
}


@dataclass(frozen=True, slots=True)
class Responses:
    """Validated templates, the clarify-loop topics (quick-reply label -> intent), and the
    shop's fixed answers for intents that need no lookup (intent -> text).
    """

    templates: Mapping[str, str]
    topics: Mapping[str, str]
    answers: Mapping[str, str] = field(default_factory=dict)

    def render(self, template: str, /, **facts: object) -> str:
        """The template named ``template`` filled with ``facts`` (every placeholder given)."""
        return self.templates[template].format_map(facts)

    def topic_intent(self, text: str) -> str | None:
        """The intent of a quick-reply topic when ``text`` is exactly its label (any case)."""
        wanted = text.strip().casefold()
        for label, intent in self.topics.items():
            if label.casefold() == wanted:
                return intent
        return None

    @property
    def topic_labels(self) -> tuple[str, ...]:
        return tuple(self.topics)


def load_responses(path: Path, *, intents: frozenset[str] | None = None) -> Responses:
    """Read and validate the templates file; raises ``ValueError`` naming the bad template."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping with 'templates' and 'topics'")
    templates = _validated_templates(data.get("templates"))
    topics = data.get("topics") or {}
    if not isinstance(topics, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in topics.items()
    ):
        raise ValueError("topics: must map quick-reply labels to intent names")
    if intents is not None and (unknown := set(topics.values()) - intents):
        raise ValueError(f"topics: unknown intent(s) {sorted(unknown)}")
    answers = _validated_answers(data.get("answers"), intents)
    return Responses(templates=templates, topics=dict(topics), answers=answers)


def _validated_answers(raw: Any, intents: frozenset[str] | None) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("answers: must map intent names to reply texts")
    answers: dict[str, str] = {}
    for intent, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"answers.{intent}: missing or empty")
        if intents is not None and intent not in intents:
            raise ValueError(f"answers.{intent}: no such intent in the training data")
        answers[str(intent)] = text.strip()
    return answers


def _validated_templates(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError("templates: must be a mapping of template name to text")
    templates: dict[str, str] = {}
    for name, allowed in TEMPLATE_FIELDS.items():
        text = raw.get(name)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"templates.{name}: missing or empty")
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        if unknown := used - allowed:
            raise ValueError(f"templates.{name}: unknown placeholder(s) {sorted(unknown)}")
        templates[name] = text.strip()
    return templates
