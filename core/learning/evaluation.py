"""Measuring an intent model: accuracy, macro-F1, per-intent scores and out-of-scope handling.

"unknown" (:data:`UNKNOWN`) is a class of its own: a message the bot should not claim to
understand is correct when the model says unknown, and an intent given to it is a false accept.
The arithmetic is plain Python over the verdicts (a few hundred messages), so this module loads
without scikit-learn; the confusion-matrix picture imports matplotlib only when drawn.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.learning.types import Example
from core.types import Classification

__all__ = [
    "UNKNOWN",
    "EvaluationFileError",
    "EvaluationReport",
    "LabelScores",
    "Miss",
    "Verdict",
    "compare_reports",
    "evaluate",
    "load_evaluation_set",
    "read_jsonl",
    "write_confusion_png",
]

UNKNOWN = "unknown"
"""The expected label of an out-of-scope message, and the verdict when the model has no intent."""


class EvaluationFileError(ValueError):
    """An evaluation file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class LabelScores:
    """Precision, recall and F1 of one label (an intent or ``unknown``); ``support`` is how many
    messages were expected to have it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Miss:
    """A misclassified message: what it should have been, what the model said, how sure it was."""

    text: str
    expected: str
    got: str
    confidence: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """How a model did on a set of messages.

    ``per_label`` has every expected label, ``unknown`` included; ``macro_f1`` is their mean F1.
    ``confusion[i][j]`` counts messages expected as ``labels[i]`` and classified as ``labels[j]``.
    ``false_accept_rate`` is the share of out-of-scope messages that were given an intent.
    """

    count: int
    accuracy: float
    macro_f1: float
    per_label: Mapping[str, LabelScores]
    false_accept_rate: float
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    misses: tuple[Miss, ...] = field(default=())

    @property
    def oos_precision(self) -> float:
        """Of the messages the model called unknown, the share that were out of scope."""
        scores = self.per_label.get(UNKNOWN)
        return scores.precision if scores else 0.0

    @property
    def oos_recall(self) -> float:
        """Of the out-of-scope messages, the share the model called unknown."""
        scores = self.per_label.get(UNKNOWN)
        return scores.recall if scores else 0.0

    def to_json(self) -> dict[str, Any]:
        """The metrics as JSON-ready values (the misclassified messages are left out)."""
        return {
            "count": self.count,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "false_accept_rate": self.false_accept_rate,
            "per_label": {
                name: [s.precision, s.recall, s.f1, s.support] for name, s in self.per_label.items()
            },
            "labels": list(self.labels),
            "confusion": [list(row) for row in self.confusion],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> EvaluationReport:
        """The report ``to_json`` wrote (without misses); ``ValueError`` when malformed."""
        try:
            return cls(
                count=int(value["count"]),
                accuracy=float(value["accuracy"]),
                macro_f1=float(value["macro_f1"]),
                false_accept_rate=float(value["false_accept_rate"]),
                per_label={
                    str(name): LabelScores(float(p), float(r), float(f), int(n))
                    for name, (p, r, f, n) in value["per_label"].items()
                },
                labels=tuple(str(label) for label in value["labels"]),
                confusion=tuple(tuple(int(n) for n in row) for row in value["confusion"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an evaluation report: {exc!r}") from exc


def evaluate(
    classify: Callable[[str], Classification],
    examples: Sequence[Example],
    *,
    progress: Callable[[Iterable[Example]], Iterable[Example]] | None = None,
) -> EvaluationReport:
    """Classify every example and score the verdicts; ``intent`` ``unknown`` means out of scope.

    ``progress`` wraps the iteration (e.g. a tqdm progress bar).
    """
    if not examples:
        raise ValueError("nothing to evaluate: the evaluation set is empty")
    expected: list[str] = []
    got: list[str] = []
    misses: list[Miss] = []
    for example in progress(examples) if progress else examples:
        verdict = classify(example.text)
        answer = verdict.intent or UNKNOWN
        expected.append(example.intent)
        got.append(answer)
        if answer != example.intent:
            misses.append(Miss(example.text, example.intent, answer, verdict.confidence))
    return _report(expected, got, tuple(misses))


def _report(expected: list[str], got: list[str], misses: tuple[Miss, ...]) -> EvaluationReport:
    pairs = Counter(zip(expected, got, strict=True))
    truth, said = Counter(expected), Counter(got)
    per_label: dict[str, LabelScores] = {}
    for label in sorted(truth):
        hits = pairs[(label, label)]
        precision = hits / said[label] if said[label] else 0.0
        recall = hits / truth[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = LabelScores(precision, recall, f1, truth[label])
    out_of_scope = truth[UNKNOWN]
    accepted = out_of_scope - pairs[(UNKNOWN, UNKNOWN)]
    labels = tuple(sorted(set(expected) | set(got), key=lambda name: (name == UNKNOWN, name)))
    confusion = tuple(tuple(pairs[(row, column)] for column in labels) for row in labels)
    return EvaluationReport(
        count=len(expected),
        accuracy=sum(pairs[(label, label)] for label in truth) / len(expected),
        macro_f1=sum(s.f1 for s in per_label.values()) / len(per_label),
        per_label=per_label,
        false_accept_rate=accepted / out_of_scope if out_of_scope else 0.0,
        labels=labels,
        confusion=confusion,
        misses=misses,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a candidate model may replace the baseline, and why (in a sentence)."""

    promoted: bool
    reason: str


def compare_reports(
    candidate: EvaluationReport, baseline: EvaluationReport, max_f1_drop: float
) -> Verdict:
    """The promotion rule: refused when the macro-F1 drops at all, or when any label's F1 (an
    intent's, or unknown's) drops by more than ``max_f1_drop``. Both reports must come from the
    same evaluation set."""
    tolerance = 1e-9  # equal scores computed in another order must not count as a drop
    problems = []
    if candidate.macro_f1 < baseline.macro_f1 - tolerance:
        problems.append(f"macro-F1 fell from {baseline.macro_f1:.3f} to {candidate.macro_f1:.3f}")
    for label, before in baseline.per_label.items():
        after = candidate.per_label.get(label)
        now = after.f1 if after else 0.0
        if before.f1 - now > max_f1_drop + tolerance:
            problems.append(
                f"{label} F1 fell from {before.f1:.3f} to {now:.3f} "
                f"({(now - before.f1) * 100:+.1f} points, at most "
                f"{max_f1_drop * 100:.1f} allowed)"
            )
    if problems:
        return Verdict(False, "; ".join(problems))
    return Verdict(
        True,
        f"macro-F1 {baseline.macro_f1:.3f} -> {candidate.macro_f1:.3f}; no intent's F1 fell "
        f"more than {max_f1_drop * 100:.1f} points",
    )


def load_evaluation_set(path: Path) -> tuple[Example, ...]:
    """The frozen evaluation set (``config/evaluation.yaml``): ``intents`` mapping each intent
    to messages, ``out_of_scope`` messages expected as unknown. ``ValueError`` when malformed."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluationFileError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise EvaluationFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("intents"), dict):
        raise EvaluationFileError(f"{path}: expected 'intents' (a mapping) and 'out_of_scope'")
    groups: dict[str, object] = {**raw["intents"], UNKNOWN: raw.get("out_of_scope", [])}
    examples: list[Example] = []
    for intent, texts in groups.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts):
            raise EvaluationFileError(f"{path}: {intent}: expected a list of messages")
        examples += [Example(text, str(intent)) for text in texts]
    return tuple(examples)


def read_jsonl(path: Path) -> tuple[Example, ...]:
    """Examples from a JSON-lines file of ``{"text": ..., "intent": ...}`` objects, where the
    intent is ``"unknown"`` or ``null`` for out-of-scope messages; blank lines are skipped.

    Raises :class:`EvaluationFileError` naming the file and the first bad line.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise EvaluationFileError(f"{path}: not UTF-8 text") from exc
    examples = [
        _example_from_line(line, f"{path}:{number}")
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    if not examples:
        raise EvaluationFileError(f"{path}: no examples in the file")
    return tuple(examples)


def _example_from_line(line: str, where: str) -> Example:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvaluationFileError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise EvaluationFileError(f'{where}: expected an object {{"text": ..., "intent": ...}}')
    text, intent = value.get("text"), value.get("intent", UNKNOWN)
    if not isinstance(text, str) or not text.strip():
        raise EvaluationFileError(f'{where}: "text" must be a non-empty string')
    if intent is None:
        intent = UNKNOWN
    if not isinstance(intent, str) or not intent.strip():
        raise EvaluationFileError(f'{where}: "intent" must be an intent name, "unknown" or null')
    return Example(text, intent)


def write_confusion_png(report: EvaluationReport, path: Path) -> None:
    """Draw the confusion matrix (rows: expected, columns: classified) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to a file only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    size = max(4.0, 0.7 * len(report.labels) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    try:
        image = axes.imshow(report.confusion, cmap="Blues")
        bar = figure.colorbar(image, ax=axes)
        bar.locator = MaxNLocator(integer=True)  # counts: no 1.25 or 1.75 ticks
        bar.update_ticks()
        ticks = range(len(report.labels))
        axes.set_xticks(ticks, report.labels, rotation=45, ha="right")
        axes.set_yticks(ticks, report.labels)
        axes.set_xlabel("classified as")
        axes.set_ylabel("expected")
        axes.set_title(f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
        peak = max((max(row) for row in report.confusion), default=0)
        for i, row in enumerate(report.confusion):
            for j, count in enumerate(row):
                if count:
                    colour = "white" if count > peak / 2 else "black"
                    axes.text(j, i, str(count), ha="center", va="center", color=colour)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    finally:
        plt.close(figure)
