"""Issue 6 benchmarks 1 and 2: the model architecture on public data, and how the shipped model
generalises to other people's wording.

1. The production recipe (``core.intents``: ``training_set`` normalisation, ``build_pipeline``,
   ``calibrate_threshold``, ``apply_threshold``) trained on Bitext train and scored on Bitext
   test (closed set: the top class, no threshold; Bitext has no out-of-scope rows); then trained
   on CLINC150 train (oos_train as the out-of-scope examples, plus the recipe's gibberish), its
   threshold chosen by ``calibrate_threshold`` (macro-F1 with unknown as a class) on
   val + oos_val, and scored on test + oos_test.
2. The shipped model (``config/intents.yaml`` only, trained as the server trains it) on the
   Bitext test utterances of the intents it covers, and on every CLINC150 test and oos_test
   query, which should all come out unknown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.metrics import f1_score

from bench.learning_data import Datasets, Utterance
from core.intents import (
    OUT_OF_SCOPE,
    LocalIntentClassifier,
    TrainingData,
    apply_threshold,
    build_pipeline,
    calibrate_threshold,
    normalise_text,
    training_set,
)
from core.learning.evaluation import UNKNOWN, evaluate
from core.learning.types import Example

__all__ = [
    "CLINC_SHOP_INTENTS",
    "Architecture",
    "ShippedGeneralisation",
    "measure_architecture",
    "measure_shipped",
]

CLINC_SHOP_INTENTS = frozenset({"greeting", "goodbye", "thank_you", "order_status"})
"""CLINC150 intents a shop bot rightly recognises (its own greeting, goodbye, order_status):
reported apart, since "every CLINC query must be unknown" is wrong for these 120."""


@dataclass(frozen=True, slots=True)
class Architecture:
    """Benchmark 1's figures (shares 0..1)."""

    bitext_train: int
    bitext_test: int
    bitext_intents: int
    bitext_accuracy: float
    bitext_macro_f1: float
    bitext_fit_seconds: float
    clinc_train: int
    clinc_threshold: float
    clinc_in_scope: int
    clinc_in_scope_accuracy: float
    clinc_oos: int
    clinc_oos_recall: float
    clinc_fit_seconds: float


def _grouped(rows: Sequence[Utterance]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.intent, []).append(row.text)
    return {name: tuple(texts) for name, texts in groups.items()}


def _bitext(data: Datasets, seed: int) -> tuple[float, float, float, int]:
    texts = [normalise_text(u.text) for u in data.bitext_train]
    labels = [u.intent for u in data.bitext_train]
    started = time.perf_counter()
    pipeline = build_pipeline(seed).fit(texts, labels)
    fit = time.perf_counter() - started
    truth = [u.intent for u in data.bitext_test]
    predicted = list(pipeline.predict([normalise_text(u.text) for u in data.bitext_test]))
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    macro = float(f1_score(truth, predicted, average="macro"))
    return accuracy, macro, fit, len(set(labels))


def measure_architecture(data: Datasets, seed: int = 0) -> Architecture:
    """Benchmark 1 (CPU-bound, about a minute or two: the CLINC fit has 151 classes)."""
    accuracy, macro, bitext_fit, intents = _bitext(data, seed)
    clinc = TrainingData(
        intents=_grouped(data.clinc_train),
        out_of_scope=tuple(u.text for u in data.clinc_oos_train),
    )
    texts, labels = training_set(clinc, seed)
    started = time.perf_counter()
    pipeline = build_pipeline(seed).fit(texts, labels)
    clinc_fit = time.perf_counter() - started
    classes = [str(c) for c in pipeline.classes_]

    def verdicts(rows: Sequence[Utterance], threshold: float) -> list[str]:
        probabilities = pipeline.predict_proba([normalise_text(u.text) for u in rows])
        return apply_threshold(probabilities, classes, threshold)

    validation = (*data.clinc_val, *data.clinc_oos_val)
    truth = [OUT_OF_SCOPE if u.intent == "oos" else u.intent for u in validation]
    probabilities = pipeline.predict_proba([normalise_text(u.text) for u in validation])
    threshold = calibrate_threshold(probabilities, classes, truth)
    in_scope = verdicts(data.clinc_test, threshold)
    oos = verdicts(data.clinc_oos_test, threshold)
    return Architecture(
        bitext_train=len(data.bitext_train),
        bitext_test=len(data.bitext_test),
        bitext_intents=intents,
        bitext_accuracy=accuracy,
        bitext_macro_f1=macro,
        bitext_fit_seconds=bitext_fit,
        clinc_train=len(texts),
        clinc_threshold=threshold,
        clinc_in_scope=len(in_scope),
        clinc_in_scope_accuracy=sum(
            v == u.intent for v, u in zip(in_scope, data.clinc_test, strict=True)
        )
        / len(in_scope),
        clinc_oos=len(oos),
        clinc_oos_recall=oos.count(OUT_OF_SCOPE) / len(oos),
        clinc_fit_seconds=clinc_fit,
    )


@dataclass(frozen=True, slots=True)
class ShippedGeneralisation:
    """Benchmark 2's figures: accuracy on the mapped Bitext test utterances (overall and per
    shop intent, unknown counting as wrong) and the CLINC false-accept rates."""

    bitext_count: int
    bitext_accuracy: float
    bitext_per_intent: dict[str, float]
    clinc_count: int
    clinc_false_accept: float
    clinc_foreign_count: int
    clinc_foreign_false_accept: float


def bitext_accuracy(
    classifier: LocalIntentClassifier, rows: Sequence[Utterance]
) -> tuple[float, dict[str, float]]:
    """Share of ``rows`` classified as their (shop) intent, overall and per intent."""
    report = evaluate(classifier.classify_text, [Example(u.text, u.intent) for u in rows])
    per_intent = {
        name: scores.recall for name, scores in report.per_label.items() if name != UNKNOWN
    }
    return report.accuracy, per_intent


def false_accept_rate(classifier: LocalIntentClassifier, texts: Sequence[str]) -> float:
    """Share of ``texts`` (all of which should be unknown) given an intent."""
    return sum(classifier.classify_text(t).intent is not None for t in texts) / len(texts)


def measure_shipped(data: Datasets, shipped: LocalIntentClassifier) -> ShippedGeneralisation:
    """Benchmark 2 on ``shipped`` (the model of ``config/intents.yaml``)."""
    mapped = data.mapped_bitext_test()
    accuracy, per_intent = bitext_accuracy(shipped, mapped)
    every = [u.text for u in (*data.clinc_test, *data.clinc_oos_test)]
    foreign = [
        u.text
        for u in (*data.clinc_test, *data.clinc_oos_test)
        if u.intent not in CLINC_SHOP_INTENTS
    ]
    return ShippedGeneralisation(
        bitext_count=len(mapped),
        bitext_accuracy=accuracy,
        bitext_per_intent=per_intent,
        clinc_count=len(every),
        clinc_false_accept=false_accept_rate(shipped, every),
        clinc_foreign_count=len(foreign),
        clinc_foreign_false_accept=false_accept_rate(shipped, foreign),
    )
