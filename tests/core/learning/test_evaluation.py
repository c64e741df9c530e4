"""Scoring intent models: metrics, the promotion rule, evaluation files, the frozen set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import CONFIG_DIR
from core.intents import load_training_data
from core.learning.evaluation import (
    UNKNOWN,
    EvaluationFileError,
    EvaluationReport,
    compare_reports,
    evaluate,
    load_evaluation_set,
    read_jsonl,
    write_confusion_png,
)
from core.learning.training import example_key
from core.learning.types import Example
from core.types import Classification

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def answers(table: dict[str, str | None]) -> object:
    """A classifier that gives the listed verdicts (confidence 0.9)."""

    def classify(text: str) -> Classification:
        return Classification(table[text], 0.9)

    return classify


EXAMPLES = [
    Example("where is my parcel", "order_status"),
    Example("track order", "order_status"),
    Example("refund please", "return_policy"),
    Example("send it back", "return_policy"),
    Example("weather today", UNKNOWN),
    Example("tell a joke", UNKNOWN),
]


def test_metrics_count_unknown_as_a_class_and_list_the_misses() -> None:
    verdicts: dict[str, str | None] = {
        "where is my parcel": "order_status",
        "track order": "order_status",
        "refund please": "return_policy",
        "send it back": None,  # a return the model did not recognise
        "weather today": None,
        "tell a joke": "order_status",  # a false accept
    }
    report = evaluate(answers(verdicts), EXAMPLES)  # type: ignore[arg-type]
    assert report.count == 6
    assert report.accuracy == pytest.approx(4 / 6)
    order = report.per_label["order_status"]
    assert (order.precision, order.recall) == (pytest.approx(2 / 3), 1.0)
    assert report.per_label["return_policy"].recall == 0.5
    assert report.oos_precision == 0.5 and report.oos_recall == 0.5
    assert report.false_accept_rate == 0.5
    f1s = [s.f1 for s in report.per_label.values()]
    assert report.macro_f1 == pytest.approx(sum(f1s) / 3)
    assert {(m.text, m.expected, m.got) for m in report.misses} == {
        ("send it back", "return_policy", UNKNOWN),
        ("tell a joke", UNKNOWN, "order_status"),
    }
    assert report.labels == ("order_status", "return_policy", UNKNOWN)
    assert report.confusion == ((2, 0, 0), (0, 1, 1), (1, 0, 1))
    assert EvaluationReport.from_json(report.to_json()).per_label == report.per_label


def _report(wrong: set[str]) -> EvaluationReport:
    truth = {e.text: e.intent for e in EXAMPLES}
    verdicts = {t: (UNKNOWN if t in wrong else i) for t, i in truth.items()}
    return evaluate(
        answers({t: (None if v == UNKNOWN else v) for t, v in verdicts.items()}),  # type: ignore[arg-type]
        EXAMPLES,
    )


def test_promotion_refuses_a_drop_of_one_intent_and_names_it() -> None:
    perfect = _report(set())
    worse = _report({"refund please"})
    verdict = compare_reports(worse, perfect, max_f1_drop=0.02)
    assert not verdict.promoted
    assert "return_policy F1 fell from 1.000 to 0.667" in verdict.reason
    assert "-33.3 points" in verdict.reason
    assert "macro-F1 fell" in verdict.reason
    assert compare_reports(perfect, worse, max_f1_drop=0.02).promoted
    assert compare_reports(perfect, perfect, max_f1_drop=0.0).promoted


def test_read_jsonl_reads_unknown_and_null_as_out_of_scope(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    lines = [
        {"text": "where is my order", "intent": "order_status"},
        {"text": "weather?", "intent": None},
        {"text": "a poem", "intent": "unknown"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    assert read_jsonl(path) == (
        Example("where is my order", "order_status"),
        Example("weather?", UNKNOWN),
        Example("a poem", UNKNOWN),
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"text": "ok", "intent": "greeting"}\n{"text": "broken"', ":2: not valid JSON"),
        ('{"text": "ok", "intent": "greeting"}\n["a list"]', ":2: expected an object"),
        ('{"intent": "greeting"}', ':1: "text" must be a non-empty string'),
        ('{"text": "hi", "intent": 3}', ':1: "intent" must be an intent name'),
        ("", "no examples"),
    ],
)
def test_read_jsonl_names_the_bad_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvaluationFileError, match=problem.replace("[", r"\[")):
        read_jsonl(path)


def test_read_jsonl_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationFileError, match="cannot read"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_frozen_set_covers_every_intent_and_never_overlaps_the_training_data() -> None:
    frozen = load_evaluation_set(CONFIG_DIR / "evaluation.yaml")
    training = load_training_data(CONFIG_DIR / "intents.yaml")
    per_intent = {name: sum(e.intent == name for e in frozen) for name in training.intents}
    assert all(count >= 50 for count in per_intent.values()), per_intent
    assert sum(e.intent == UNKNOWN for e in frozen) >= 250
    assert {e.intent for e in frozen} == {*training.intents, UNKNOWN}
    trained = {example_key(t) for texts in training.intents.values() for t in texts}
    trained |= {example_key(t) for t in training.out_of_scope}
    overlap = [e.text for e in frozen if example_key(e.text) in trained]
    assert overlap == []
    assert len({example_key(e.text) for e in frozen}) == len(frozen)  # no duplicates


def test_confusion_matrix_png(tmp_path: Path) -> None:
    path = tmp_path / "out" / "confusion.png"
    write_confusion_png(_report({"refund please"}), path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
