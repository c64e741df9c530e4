"""Local intent classification, trained at start-up from the shop's examples (config/intents.yaml).

The model is TF-IDF (word 1-2 grams + char_wb 2-5 grams) into a multinomial logistic regression,
with an explicit out-of-scope class trained on off-topic examples plus seeded synthetic gibberish.
bench/intent_models.py holds the measurements that chose it over LinearSVC, SGD and ComplementNB.
Predictions of one message skip scikit-learn's per-call validation and sparse matrices: the same
arithmetic is done on the few n-grams the message has (core/intent_scorer.py), which keeps it
far below a millisecond.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from core.intent_scorer import LinearScorer
from core.types import Classification, IntentScore

__all__ = [
    "FORMAT_VERSION",
    "MAX_FALSE_ACCEPT",
    "MIN_EXAMPLES",
    "OUT_OF_SCOPE",
    "LocalIntentClassifier",
    "TrainingData",
    "apply_threshold",
    "build_features",
    "build_pipeline",
    "calibrate_threshold",
    "generate_gibberish",
    "gibberish_count",
    "load_or_train",
    "load_training_data",
    "normalise_text",
    "train_classifier",
    "training_set",
]

OUT_OF_SCOPE = "out_of_scope"
"""The internal label of messages the bot must not claim to understand; never returned as intent."""

FORMAT_VERSION = 1
"""Bumped when the pickled model or the training recipe changes; older files are retrained."""

MAX_FALSE_ACCEPT = 0.06
"""The calibrated threshold takes at most this share of held-out off-topic examples for an intent.

Without a budget, the threshold maximising macro-F1 trades off-topic rejection for intent recall
by the classes' sizes, so a version trained on more intent examples accepted more off-topic
messages. With it, every version answers at most this share of the shop's own off-topic
examples; 6 % is what the shipped examples were calibrated to before (threshold 0.28 either way).
"""

MIN_EXAMPLES = 5
"""Fewest examples an intent may have: calibration holds out a fifth of each class."""

_INTENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HAS_DIGIT = re.compile(r"#?\w*\d\w*")
_THRESHOLD_GRID = tuple(round(0.02 * i, 2) for i in range(46))  # 0.00 .. 0.90


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Intent examples and out-of-scope examples, as written in the training file."""

    intents: Mapping[str, tuple[str, ...]]
    out_of_scope: tuple[str, ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """sha256 of everything that changes the trained model (descriptions do not)."""
        content = {
            "format": FORMAT_VERSION,
            "max_false_accept": MAX_FALSE_ACCEPT,
            "intents": {name: list(examples) for name, examples in sorted(self.intents.items())},
            "out_of_scope": list(self.out_of_scope),
        }
        encoded = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()


def load_training_data(path: Path) -> TrainingData:
    """Read and validate a training file; raises ``ValueError`` naming the file and the bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read intent training data ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: intent training data is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with keys 'intents' and 'out_of_scope'")
    unknown = sorted(set(raw) - {"intents", "out_of_scope"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {unknown}")
    intents, descriptions = _parse_intents(raw.get("intents"), path)
    out_of_scope = _string_list(raw.get("out_of_scope", []), f"{path}: out_of_scope", 0)
    return TrainingData(intents=intents, out_of_scope=out_of_scope, descriptions=descriptions)


def _parse_intents(raw: object, path: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(
            f"{path}: 'intents' must be a non-empty mapping of intent name to examples"
        )
    intents: dict[str, tuple[str, ...]] = {}
    descriptions: dict[str, str] = {}
    for name, body in raw.items():
        where = f"{path}: intents.{name}"
        if not isinstance(name, str) or not _INTENT_NAME.fullmatch(name) or name == OUT_OF_SCOPE:
            raise ValueError(f"{where}: intent names are lower_snake_case and not {OUT_OF_SCOPE!r}")
        if not isinstance(body, dict) or "examples" not in body:
            raise ValueError(f"{where}: expected a mapping with 'examples' (and 'description')")
        unknown = sorted(set(body) - {"examples", "description"})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}")
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ValueError(f"{where}.description: must be a string")
        intents[name] = _string_list(body["examples"], f"{where}.examples", MIN_EXAMPLES)
        descriptions[name] = description
    return intents, descriptions


def _string_list(raw: object, where: str, minimum: int) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of strings")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{where}[{i}]: must be a non-empty string, got {item!r}")
    if len(raw) < minimum:
        raise ValueError(f"{where}: needs at least {minimum} examples, has {len(raw)}")
    return tuple(item.strip() for item in raw)


def normalise_text(text: str) -> str:
    """Lower-case, with emails and anything containing a digit (order numbers) as placeholders.

    "where is #1003" and "where is order 99999" then look alike to the model.
    """
    text = _EMAIL.sub(" _email_ ", text.lower())
    return _HAS_DIGIT.sub(" _num_ ", text)


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def generate_gibberish(count: int, seed: int) -> tuple[str, ...]:
    """``count`` keyboard mashes and random letter strings, the same for the same seed."""
    rng = random.Random(seed)
    return tuple(
        " ".join(_gibberish_word(rng, i % 2 == 0) for _ in range(rng.choice((1, 1, 1, 2, 3))))
        for i in range(count)
    )


def _gibberish_word(rng: random.Random, keyboard: bool) -> str:
    length = rng.randint(3, 10)
    if not keyboard:
        return "".join(rng.choice(_LETTERS) for _ in range(length))
    row = rng.choice(_KEYBOARD_ROWS)
    start = rng.randrange(len(row) - 2)
    run = row[start : start + length]
    run = run[::-1] if rng.random() < 0.3 else run
    return run * rng.choice((1, 1, 2)) if rng.random() < 0.8 else "".join(rng.sample(run, len(run)))


def build_features() -> FeatureUnion:
    """TF-IDF of word 1-2 grams beside char_wb 2-5 grams (the latter absorb typos and mashes)."""
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )


def build_pipeline(seed: int = 0, c: float = 10.0) -> Pipeline:
    """The untrained model: ``build_features`` into multinomial logistic regression.

    Classes are not re-weighted: the out-of-scope class being the largest makes the model
    readier to say "unknown", which measured better on unseen off-topic messages.
    """
    # newton-cg reaches the same optimum as the default lbfgs 10-100x faster on these features.
    model = LogisticRegression(C=c, solver="newton-cg", max_iter=500, random_state=seed)
    return Pipeline([("features", build_features()), ("model", model)])


def gibberish_count(data: TrainingData) -> int:
    """How many generated keyboard mashes :func:`training_set` adds to the off-topic examples."""
    return max(60, len(data.out_of_scope) // 2)


def training_set(data: TrainingData, seed: int) -> tuple[list[str], list[str]]:
    """Normalised texts and labels: the intents, then the out-of-scope examples, then the
    generated gibberish (the last :func:`gibberish_count` rows)."""
    texts: list[str] = []
    labels: list[str] = []
    for name, examples in data.intents.items():
        texts += examples
        labels += [name] * len(examples)
    negatives = data.out_of_scope + generate_gibberish(gibberish_count(data), seed)
    texts += negatives
    labels += [OUT_OF_SCOPE] * len(negatives)
    return [normalise_text(t) for t in texts], labels


def calibrate_threshold(
    probabilities: np.ndarray,
    classes: Sequence[str],
    truth: Sequence[str],
    *,
    counted: Sequence[bool] | None = None,
    max_false_accept: float = MAX_FALSE_ACCEPT,
) -> float:
    """The confidence threshold maximising macro-F1 ("unknown" as a class) among those that
    take at most ``max_false_accept`` of the off-topic messages for an intent.

    ``probabilities`` are held-out predictions (rows: messages, columns: ``classes``). The
    false-accept rate is measured on the rows ``counted`` marks (default: every out-of-scope
    row); when no threshold keeps within the budget, those with the lowest rate compete. Where
    several thresholds tie, the middle one is taken: the furthest from both failure modes.
    """
    verdicts = [apply_threshold(probabilities, classes, t) for t in _THRESHOLD_GRID]
    off_topic = [label == OUT_OF_SCOPE for label in truth] if counted is None else list(counted)
    rates = [_false_accept_rate(v, off_topic) for v in verdicts]
    allowed = max(max_false_accept, min(rates))
    eligible = [i for i, rate in enumerate(rates) if rate <= allowed + 1e-12]
    scores = {
        i: f1_score(list(truth), verdicts[i], average="macro", zero_division=0) for i in eligible
    }
    best = max(scores.values())
    ties = [_THRESHOLD_GRID[i] for i, score in scores.items() if score >= best - 1e-9]
    return ties[len(ties) // 2]


def _false_accept_rate(verdicts: Sequence[str], off_topic: Sequence[bool]) -> float:
    """Share of the ``off_topic`` rows given an intent (0 when there are none)."""
    total = sum(off_topic)
    accepted = sum(v != OUT_OF_SCOPE for v, o in zip(verdicts, off_topic, strict=True) if o)
    return accepted / total if total else 0.0


def apply_threshold(
    probabilities: np.ndarray, classes: Sequence[str], threshold: float
) -> list[str]:
    """Verdict per row of class probabilities, ``OUT_OF_SCOPE`` standing for "unknown"."""
    top = probabilities.argmax(axis=1)
    confident = probabilities[np.arange(len(top)), top] >= threshold
    return [classes[t] if ok else OUT_OF_SCOPE for t, ok in zip(top, confident, strict=True)]


def train_classifier(
    data: TrainingData, *, seed: int = 0, threshold: float | None = None
) -> LocalIntentClassifier:
    """Train on ``data``; unless given, the threshold is calibrated on 5-fold held-out data."""
    texts, labels = training_set(data, seed)
    # The budget is measured on off-topic messages people wrote: keyboard mashes are easy.
    written = len(texts) - gibberish_count(data)
    counted = [label == OUT_OF_SCOPE and i < written for i, label in enumerate(labels)]
    folds = StratifiedKFold(n_splits=MIN_EXAMPLES, shuffle=True, random_state=seed)
    held_out = cross_val_predict(
        build_pipeline(seed), texts, labels, cv=folds, method="predict_proba"
    )
    classes = sorted(set(labels))  # the column order cross_val_predict and the model use
    calibrated = calibrate_threshold(held_out, classes, labels, counted=counted)
    pipeline = build_pipeline(seed).fit(texts, labels)
    fingerprint = data.fingerprint()
    return LocalIntentClassifier(
        pipeline, calibrated_threshold=calibrated, fingerprint=fingerprint, threshold=threshold
    )


class LocalIntentClassifier:
    """The trained model behind the ``IntentClassifier`` port.

    ``threshold`` is the confidence below which a message is unknown: the value calibrated at
    training time (``calibrated_threshold``) unless one was given explicitly.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        calibrated_threshold: float,
        fingerprint: str,
        threshold: float | None = None,
    ) -> None:
        self._pipeline = pipeline
        self.calibrated_threshold = calibrated_threshold
        self.threshold = calibrated_threshold if threshold is None else threshold
        self.fingerprint = fingerprint
        self._scorer = LinearScorer(pipeline)
        self._intents = tuple(c for c in self._scorer.classes if c != OUT_OF_SCOPE)

    @property
    def intents(self) -> Sequence[str]:
        """The intents this model can return, sorted by name."""
        return self._intents

    async def classify(self, text: str) -> Classification:
        """Classify one message; fast enough (tens of microseconds) to run on the event loop."""
        return self.classify_text(text)

    def classify_text(self, text: str) -> Classification:
        """The intent of ``text``, or ``None`` when off-topic or less confident than ``threshold``.

        ``confidence`` is the top intent's probability even when the verdict is ``None``.
        ``ranking`` has every intent (never out-of-scope), most likely first.
        """
        probabilities = self._scorer.probabilities(normalise_text(text))
        ranking = sorted(
            (
                IntentScore(name, float(p))
                for name, p in zip(self._scorer.classes, probabilities, strict=True)
                if name != OUT_OF_SCOPE
            ),
            key=lambda score: -score.confidence,
        )
        top = ranking[0]
        is_oos = self._scorer.classes[int(np.argmax(probabilities))] == OUT_OF_SCOPE
        known = not is_oos and top.confidence >= self.threshold
        return Classification(top.intent if known else None, top.confidence, tuple(ranking))

    def reference_probabilities(self, text: str) -> dict[str, float]:
        """Class probabilities as scikit-learn computes them (slow; to check the fast path)."""
        row = self._pipeline.predict_proba([normalise_text(text)])[0]
        return dict(zip(self._scorer.classes, (float(p) for p in row), strict=True))

    def save(self, path: Path) -> None:
        """Write the model atomically (temporary file, then rename): a header, then the pipeline."""
        header = {
            "format_version": FORMAT_VERSION,
            "sklearn_version": sklearn.__version__,
            "fingerprint": self.fingerprint,
            "calibrated_threshold": self.calibrated_threshold,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(header, fh, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(self._pipeline, fh, protocol=pickle.HIGHEST_PROTOCOL)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, *, threshold: float | None = None) -> LocalIntentClassifier:
        """Read a model written by ``save``; ``ValueError`` if unreadable or from another version.

        Only load files this application wrote: unpickling runs code from the file.
        """
        expected = {"format_version": FORMAT_VERSION, "sklearn_version": sklearn.__version__}
        try:
            with path.open("rb") as fh:
                header: Any = pickle.load(fh)
                # Checked before the pipeline is unpickled: another scikit-learn may not read it.
                current = isinstance(header, dict) and all(
                    header.get(key) == value for key, value in expected.items()
                )
                pipeline = pickle.load(fh) if current else None
        except Exception as exc:  # unpickling garbage can raise nearly anything
            raise ValueError(f"{path}: not a readable intent model ({exc!r})") from exc
        if pipeline is None:
            raise ValueError(f"{path}: intent model from another version; retrain")
        return cls(
            pipeline,
            calibrated_threshold=float(header["calibrated_threshold"]),
            fingerprint=str(header["fingerprint"]),
            threshold=threshold,
        )


def load_or_train(
    data: TrainingData, cache_dir: Path, *, threshold: float | None = None
) -> LocalIntentClassifier:
    """The cached model for exactly this training data, or a freshly trained (and cached) one."""
    fingerprint = data.fingerprint()
    path = cache_dir / f"intent-model-{fingerprint[:16]}.pkl"
    if path.exists():
        try:
            model = LocalIntentClassifier.load(path, threshold=threshold)
        except ValueError:
            model = None  # stale or damaged: retrain below and overwrite it
        if model is not None and model.fingerprint == fingerprint:
            return model
    model = train_classifier(data, threshold=threshold)
    model.save(path)
    return model
