"""The local intent model's fast path: class probabilities of one message by plain arithmetic.

scikit-learn validates its input and builds sparse matrices on every call, which costs more than
the model itself for a single message. :class:`LinearScorer` reads the fitted pipeline's
vocabularies, idf weights and coefficients once and repeats the same arithmetic on the few
n-grams a message has; ``tests/core/test_intents.py`` checks it against ``predict_proba``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

__all__ = ["LinearScorer"]


@dataclass(frozen=True, slots=True)
class _Block:
    """One TF-IDF vectorizer's share of the model, ready for per-message arithmetic."""

    analyzer: Callable[[str], list[str]]
    vocabulary: Mapping[str, int]
    idf: np.ndarray
    weights: np.ndarray  # (n_features, n_classes), rows in vocabulary order


class LinearScorer:
    """predict_proba of the fitted pipeline for one message, without scikit-learn's overhead.

    Mirrors TfidfVectorizer (sublinear tf, idf, l2 norm per block), FeatureUnion (blocks side by
    side) and multinomial LogisticRegression (softmax of the linear scores).
    """

    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        model: LogisticRegression = pipeline.named_steps["model"]
        self.classes: tuple[str, ...] = tuple(str(c) for c in model.classes_)
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # two classes: sigmoid(z) is softmax([0, z])
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        coef = np.ascontiguousarray(coef.T)
        self._intercept = intercept
        blocks = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            size = len(vectorizer.vocabulary_)
            blocks.append(
                _Block(
                    analyzer=vectorizer.build_analyzer(),
                    vocabulary=vectorizer.vocabulary_,
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    weights=coef[offset : offset + size],
                )
            )
            offset += size
        self._blocks = tuple(blocks)

    def probabilities(self, document: str) -> np.ndarray:
        """Class probabilities for an already normalised message, in ``classes`` order."""
        scores = self._intercept.copy()
        for block in self._blocks:
            counts = Counter(
                i
                for term in block.analyzer(document)
                if (i := block.vocabulary.get(term)) is not None
            )
            if not counts:
                continue
            index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tf = np.fromiter((1.0 + math.log(n) for n in counts.values()), np.float64, len(counts))
            values = tf * block.idf[index]
            values /= math.sqrt(float(values @ values))
            scores += values @ block.weights[index]
        scores -= scores.max()
        exp = np.exp(scores)
        result: np.ndarray = exp / exp.sum()
        return result
