"""The unknown threshold: macro-F1 decides, within the off-topic false-accept budget."""

from __future__ import annotations

import numpy as np

from core.intents import OUT_OF_SCOPE, apply_threshold, calibrate_threshold

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
