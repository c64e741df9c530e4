"""The unknown threshold: macro-F1 decides, within the off-topic false-accept budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.intent_threshold import (
    MAX_FALSE_ACCEPT,
    OUT_OF_SCOPE,
    apply_threshold,
    calibrate_threshold,
)
from core.intents import (
    TrainingData,
    generate_gibberish,
    held_out_probabilities,
    load_training_data,
    normalise_text,
    train_classifier,
    training_set,
)

TRAINING_FILE = Path(__file__).resolve().parents[2] / "config" / "intents.yaml"

CLASSES = ["a", "b", OUT_OF_SCOPE]
# Held-out predictions where macro-F1 alone prefers a low threshold: 20 correct but unsure "a"
# rows (0.35), 10 sure "b" rows, 10 off-topic rows the model knows, and 5 off-topic rows it
# takes for "a" at 0.40 - accepted by any threshold that keeps the 20 "a" rows.
ROWS = (
    [([0.35, 0.33, 0.32], "a")] * 20
    + [([0.05, 0.90, 0.05], "b")] * 10
    + [([0.02, 0.03, 0.95], OUT_OF_SCOPE)] * 10
    + [([0.40, 0.30, 0.30], OUT_OF_SCOPE)] * 5
)


def _split(rows: list[tuple[list[float], str]]) -> tuple[np.ndarray, list[str]]:
    return np.array([p for p, _ in rows]), [label for _, label in rows]


def _false_accepts(rows: list[tuple[list[float], str]], threshold: float) -> int:
    probabilities, truth = _split(rows)
    verdicts = apply_threshold(probabilities, CLASSES, threshold)
    return sum(
        t == OUT_OF_SCOPE and v != OUT_OF_SCOPE for v, t in zip(verdicts, truth, strict=True)
    )


def test_without_a_budget_macro_f1_accepts_the_off_topic_rows() -> None:
    probabilities, truth = _split(ROWS)
    threshold = calibrate_threshold(probabilities, CLASSES, truth, max_false_accept=1.0)
    assert threshold <= 0.35
    assert _false_accepts(ROWS, threshold) == 5


def test_the_budget_raises_the_threshold_until_off_topic_rows_are_refused() -> None:
    probabilities, truth = _split(ROWS)
    threshold = calibrate_threshold(probabilities, CLASSES, truth)
    assert threshold > 0.40
    assert _false_accepts(ROWS, threshold) == 0
    # A budget the 5 accepted rows fit in (5 of 15 off-topic rows) lets macro-F1 decide again.
    loose = calibrate_threshold(probabilities, CLASSES, truth, max_false_accept=0.34)
    assert loose <= 0.35


def test_rows_not_counted_do_not_spend_the_budget() -> None:
    probabilities, truth = _split(ROWS)
    # The 5 hard rows stand for generated gibberish: only the 10 written ones are counted.
    counted = [label == OUT_OF_SCOPE for label in truth[:40]] + [False] * 5
    threshold = calibrate_threshold(probabilities, CLASSES, truth, counted=counted)
    assert threshold <= 0.35


def test_a_budget_no_threshold_meets_takes_the_lowest_rate_reachable() -> None:
    # One off-topic row is taken for "b" at 0.99: no threshold up to 0.90 refuses it (1 of 16).
    rows = [*ROWS, ([0.005, 0.99, 0.005], OUT_OF_SCOPE)]
    probabilities, truth = _split(rows)
    threshold = calibrate_threshold(probabilities, CLASSES, truth, max_false_accept=0.05)
    assert threshold > 0.40
    assert _false_accepts(rows, threshold) == 1


def test_a_few_off_topic_rows_cannot_force_a_threshold_that_refuses_every_intent() -> None:
    # 10 off-topic rows, one taken for "a" at 0.85: a 6 % budget of 10 rows is 0.6 of a row.
    rows = (
        [([0.60, 0.20, 0.20], "a")] * 20
        + [([0.05, 0.90, 0.05], "b")] * 10
        + [([0.02, 0.03, 0.95], OUT_OF_SCOPE)] * 9
        + [([0.85, 0.10, 0.05], OUT_OF_SCOPE)]
    )
    probabilities, truth = _split(rows)
    threshold = calibrate_threshold(probabilities, CLASSES, truth)
    assert threshold <= 0.60  # the 20 "a" rows are still recognised
    assert _false_accepts(rows, threshold) == 1


def test_rows_and_counted_must_match() -> None:
    probabilities, truth = _split(ROWS)
    with pytest.raises(ValueError, match="one entry per row"):
        calibrate_threshold(probabilities, CLASSES, truth, counted=[True] * 3)


# Messages in the style the learning loop adds (written for this test): they share words
# ("PIN", "money", "compensation") with off-topic requests, so a model trained on them takes
# more of the shop's off-topic examples for an intent.
LOOP_STYLE = {
    "tech_support": (
        "help me get my profile pin back",
        "i lost the pin code for my profile",
        "need to retrieve my account key",
        "how can I recover the passcode of my profile",
        "assistance recovering my user PIN",
        "what do I do if I forgot my security code",
        "info on getting a new pin for my profile",
        "can't remember my account pin, help",
    ),
    "return_policy": (
        "could you help me get a money rebate",
        "how do I obtain compensation for this",
        "help getting reimbursement of money",
        "I'm after a rebate of my money",
        "I want compensation for what I paid",
        "need my money reimbursed",
        "how can I claim compensation",
        "is it possible to get a rebate",
    ),
}


def test_a_model_trained_on_more_examples_keeps_the_written_off_topic_budget() -> None:
    shipped = load_training_data(TRAINING_FILE)
    data = TrainingData(
        intents={k: v + LOOP_STYLE.get(k, ()) for k, v in shipped.intents.items()},
        out_of_scope=shipped.out_of_scope,
    )
    model = train_classifier(data)
    rows = training_set(data, seed=0)
    probabilities, classes = held_out_probabilities(rows, seed=0)

    def written_false_accepts(threshold: float) -> float:
        verdicts = apply_threshold(probabilities, classes, threshold)
        pairs = zip(verdicts, rows.written_off_topic, strict=True)
        return sum(v != OUT_OF_SCOPE for v, written in pairs if written) / len(shipped.out_of_scope)

    # Macro-F1 alone would accept more than the budget of the written off-topic examples
    # (the generated gibberish, easy to refuse, would hide that if it were counted)...
    unbounded = calibrate_threshold(probabilities, classes, rows.labels, max_false_accept=1.0)
    assert written_false_accepts(unbounded) > MAX_FALSE_ACCEPT
    # ...the trained model's threshold keeps within it.
    assert written_false_accepts(model.calibrated_threshold) <= MAX_FALSE_ACCEPT
    assert model.calibrated_threshold > unbounded


def test_training_rows_mark_exactly_the_written_off_topic_examples() -> None:
    data = load_training_data(TRAINING_FILE)
    rows = training_set(data, seed=0)
    written = [t for t, w in zip(rows.texts, rows.written_off_topic, strict=True) if w]
    assert written == [normalise_text(t) for t in data.out_of_scope]
    generated = [
        t
        for t, label, w in zip(rows.texts, rows.labels, rows.written_off_topic, strict=True)
        if label == OUT_OF_SCOPE and not w
    ]
    assert len(generated) >= 60
    assert generated == [normalise_text(t) for t in generate_gibberish(len(generated), seed=0)]
