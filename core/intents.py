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
from typing import Any, NamedTuple

import numpy as np
import sklearn
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from core.intent_scorer import LinearScorer
from core.intent_threshold import MAX_FALSE_ACCEPT, OUT_OF_SCOPE, calibrate_threshold
from core.types import Classification, IntentScore

__all__ = [
    "FORMAT_VERSION",
    "MIN_EXAMPLES",
    "OUT_OF_SCOPE",
    "LocalIntentClassifier",
    "TrainingData",
    "TrainingSet",
    "build_features",
    "build_pipeline",
    "generate_gibberish",
    "held_out_probabilities",
    "load_or_train",
    "load_training_data",
    "normalise_text",
    "train_classifier",
    "training_set",
]

FORMAT_VERSION = 1
"""Bumped when the pickled model or the training recipe changes; older files are retrained."""

MIN_EXAMPLES = 5
"""Fewest examples an intent may have: calibration holds out a fifth of each class."""

_INTENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HAS_DIGIT = re.compile(r"#?\w*\d\w*")
# The placeholders core/learning/placeholders.py writes into learnt examples, as what the real
# values look like after normalisation: a name carries no intent and is dropped.
_LEARNT_PLACEHOLDER = re.compile(r"<(number|phone|email|name)>")
_AS_NORMALISED = {"number": " _num_ ", "phone": " _num_ ", "email": " _email_ ", "name": " "}


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

    "where is #1003" and "where is order 99999" then look alike to the model, and so does a
    learnt example stored as "where is <number>" (its personal data replaced).
    """
    text = _LEARNT_PLACEHOLDER.sub(lambda m: _AS_NORMALISED[m.group(1)], text.lower())
    text = _EMAIL.sub(" _email_ ", text)
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


class TrainingSet(NamedTuple):
    """The rows a model is fitted on: normalised texts, their labels, and which rows are
    off-topic examples people wrote (the generated gibberish rows are not)."""

    texts: list[str]
    labels: list[str]
    written_off_topic: list[bool]


def training_set(data: TrainingData, seed: int) -> TrainingSet:
    """The intents' examples, then the written out-of-scope examples, then generated gibberish
    (half as many as the written ones, at least 60), all normalised."""
    texts: list[str] = []
    labels: list[str] = []
    for name, examples in data.intents.items():
        texts += examples
        labels += [name] * len(examples)
    written = [False] * len(texts) + [True] * len(data.out_of_scope)
    gibberish = generate_gibberish(max(60, len(data.out_of_scope) // 2), seed)
    texts += (*data.out_of_scope, *gibberish)
    labels += [OUT_OF_SCOPE] * (len(data.out_of_scope) + len(gibberish))
    written += [False] * len(gibberish)
    return TrainingSet([normalise_text(t) for t in texts], labels, written)


def held_out_probabilities(rows: TrainingSet, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Each row's class probabilities from a model that did not see it (5-fold, stratified),
    and the classes in column order."""
    folds = StratifiedKFold(n_splits=MIN_EXAMPLES, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(
        build_pipeline(seed), rows.texts, rows.labels, cv=folds, method="predict_proba"
    )
    return probabilities, sorted(set(rows.labels))  # the column order cross_val_predict uses


def train_classifier(
    data: TrainingData, *, seed: int = 0, threshold: float | None = None
) -> LocalIntentClassifier:
    """Train on ``data``; unless given, the threshold is calibrated on 5-fold held-out
    predictions, its false-accept budget spent on the written off-topic examples only
    (keyboard mashes are easy to refuse and would dilute it)."""
    rows = training_set(data, seed)
    probabilities, classes = held_out_probabilities(rows, seed)
    calibrated = calibrate_threshold(
        probabilities, classes, rows.labels, counted=rows.written_off_topic
    )
    pipeline = build_pipeline(seed).fit(rows.texts, rows.labels)
    return LocalIntentClassifier(
        pipeline,
        calibrated_threshold=calibrated,
        fingerprint=data.fingerprint(),
        threshold=threshold,
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
