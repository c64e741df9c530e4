"""Training a new model version from the shipped and the accepted examples, and deciding whether
it may replace the active one.

The recipe is core/intents.py's, unchanged (same pipeline, same threshold calibration); only
the examples grow. Two sets never meet: the evaluation set (the frozen ``config/evaluation.yaml``
plus a fixed slice of the accepted examples) and the training set.

The held-out slice: an accepted example whose normalised text hashes to 0 modulo
:data:`HOLDOUT_MODULUS` (one in five) is evaluated on and never trained on. The hash depends on
the text alone, so each example stays on the same side forever, and the evaluation set follows
the shop's real traffic while remaining frozen for every example already in it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.intents import (
    OUT_OF_SCOPE,
    LocalIntentClassifier,
    TrainingData,
    load_or_train,
    normalise_text,
    train_classifier,
)
from core.learning.evaluation import (
    UNKNOWN,
    EvaluationReport,
    Verdict,
    compare_reports,
    evaluate,
)
from core.learning.registry import PROMOTED, REJECTED, ModelRegistry, ModelVersion
from core.learning.types import Example
from core.types import utcnow

__all__ = [
    "HOLDOUT_MODULUS",
    "SHIPPED_MODEL",
    "AcceptedCounts",
    "CandidateModel",
    "TrainingOutcome",
    "evaluation_examples",
    "example_key",
    "in_training_order",
    "is_held_out",
    "merge_examples",
    "train_candidate",
    "train_version",
]

HOLDOUT_MODULUS = 5
"""One accepted example in this many is held out for evaluation (see the module docstring)."""
SHIPPED_MODEL = "the shipped model"
"""What the model trained from the training file alone is called before it is stored."""


def example_key(text: str) -> str:
    """What makes two messages the same example: normalised (lower case, numbers and emails as
    placeholders) with runs of spaces collapsed."""
    return " ".join(normalise_text(text).split())


def is_held_out(example: Example) -> bool:
    """Whether an accepted example belongs to the evaluation set rather than to training."""
    digest = hashlib.sha256(example_key(example.text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HOLDOUT_MODULUS == 0


def in_training_order(examples: Iterable[Example]) -> list[Example]:
    """``examples`` in a fixed order (by normalised text, then intent and text), whatever
    order they came in: the database returns accepted examples in an order that follows
    conversation ids, and the order changes the cross-validation folds, hence the calibrated
    threshold and the training-set fingerprint. Sorted, the same examples always give the
    same model."""
    return sorted(examples, key=lambda e: (example_key(e.text), e.intent, e.text))


def evaluation_examples(
    frozen: Sequence[Example], accepted: Sequence[Example]
) -> tuple[Example, ...]:
    """The evaluation set: the frozen examples plus the held-out slice of ``accepted`` (one per
    distinct message, in :func:`in_training_order`; intents the model cannot know are skipped
    by the caller's choice of ``accepted``)."""
    seen = {example_key(e.text) for e in frozen}
    held: list[Example] = []
    for example in in_training_order(accepted):
        key = example_key(example.text)
        if is_held_out(example) and key not in seen:
            seen.add(key)
            held.append(example)
    return (*frozen, *held)


def merge_examples(
    shipped: TrainingData, accepted: Sequence[Example], evaluation: Sequence[Example]
) -> tuple[TrainingData, int]:
    """``shipped`` plus the accepted examples (in :func:`in_training_order`) that are not held
    out, not already there, not in the evaluation set and of a known intent (``unknown`` ones
    join the out-of-scope examples); also how many were added."""
    excluded = {example_key(e.text) for e in evaluation}
    excluded |= {example_key(t) for texts in shipped.intents.values() for t in texts}
    excluded |= {example_key(t) for t in shipped.out_of_scope}
    intents = {name: list(texts) for name, texts in shipped.intents.items()}
    out_of_scope = list(shipped.out_of_scope)
    added = 0
    for example in in_training_order(accepted):
        key = example_key(example.text)
        known = example.intent in intents or example.intent in (UNKNOWN, OUT_OF_SCOPE)
        if is_held_out(example) or key in excluded or not known:
            continue
        excluded.add(key)
        target = intents.get(example.intent, out_of_scope)
        target.append(example.text)
        added += 1
    data = TrainingData(
        intents={name: tuple(texts) for name, texts in intents.items()},
        out_of_scope=tuple(out_of_scope),
        descriptions=shipped.descriptions,
    )
    return data, added


@dataclass(frozen=True, slots=True)
class CandidateModel:
    """A freshly trained model with its training data and its evaluation report."""

    classifier: LocalIntentClassifier
    data: TrainingData
    accepted_examples: int
    report: EvaluationReport


def train_candidate(
    shipped: TrainingData,
    accepted: Sequence[Example],
    evaluation: Sequence[Example],
    *,
    threshold: float | None = None,
    seed: int = 0,
) -> CandidateModel:
    """Train on ``shipped`` + ``accepted`` (see :func:`merge_examples`) and evaluate on
    ``evaluation``. CPU-bound for seconds: call it in a thread from async code."""
    data, added = merge_examples(shipped, accepted, evaluation)
    classifier = train_classifier(data, seed=seed, threshold=threshold)
    report = evaluate(classifier.classify_text, evaluation)
    return CandidateModel(classifier, data, added, report)


@dataclass(frozen=True, slots=True)
class AcceptedCounts:
    """What became of the accepted examples in one run: ``trained`` on, ``held_out`` for
    evaluation, ``duplicates`` (already a shipped or evaluation example, or accepted twice) and
    ``skipped``: those of intents the training data no longer has (``skipped_intents``)."""

    total: int
    trained: int
    held_out: int
    duplicates: int
    skipped: int
    skipped_intents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    """What ``learn train`` did. ``candidate`` and ``verdict`` are ``None`` when there was
    nothing new to train on: ``same_examples`` is then the stored version trained on exactly
    these examples (``None``: the shipped model, on a dry run before any version is stored).
    ``baseline`` is the active model's (or the shipped one's) report on the same evaluation set;
    ``stored`` the new version (``None`` on a dry run; rejected, with the reason, when another
    version became active while it was trained); ``first_version`` the shipped model, when it
    was stored just now as the first version. ``frozen_baseline`` and ``frozen_candidate`` are
    the reports on the frozen examples alone (the shop's own yardstick, without the held-out
    accepted ones); ``baseline_threshold`` is the baseline's unknown threshold."""

    candidate: CandidateModel | None
    baseline: EvaluationReport
    baseline_name: str
    verdict: Verdict | None
    stored: ModelVersion | None
    first_version: ModelVersion | None
    same_examples: ModelVersion | None
    examples: AcceptedCounts
    evaluation_count: int
    baseline_threshold: float
    frozen_baseline: EvaluationReport
    frozen_candidate: EvaluationReport | None


async def train_version(
    registry: ModelRegistry,
    shipped: TrainingData,
    accepted: Sequence[Example],
    frozen: Sequence[Example],
    *,
    max_f1_drop: float,
    cache_dir: Path,
    threshold: float | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainingOutcome:
    """Train a candidate on ``shipped`` + ``accepted``, compare it with the active version on
    the evaluation set (``frozen`` + the held-out slice of ``accepted``) and store it as
    promoted (and active) or rejected. When no version is stored yet, the shipped model (trained
    from the files alone) is stored first as the active ``v1``. Nothing is trained when a stored
    version was trained on exactly these examples. ``dry_run`` stores nothing."""
    usable = _known(accepted, shipped)
    evaluation = evaluation_examples(frozen, usable)
    base = await _baseline(
        registry,
        shipped,
        evaluation,
        cache_dir=cache_dir,
        threshold=threshold,
        dry_run=dry_run,
        progress=progress,
    )
    data, trained = merge_examples(shipped, usable, evaluation)
    counts = _counts(accepted, usable, trained)
    same = await _trained_on(registry, data.fingerprint())
    candidate = verdict = stored = frozen_candidate = None
    if same is None and data.fingerprint() != base.model.fingerprint:
        progress(f"training on {trained} accepted example(s) and the shipped ones")
        candidate = await asyncio.to_thread(
            train_candidate, shipped, usable, evaluation, threshold=threshold
        )
        verdict = compare_reports(candidate.report, base.report, max_f1_drop)
        frozen_candidate = evaluate(candidate.classifier.classify_text, frozen)
        if not dry_run:
            stored = await _store(registry, candidate, verdict, base.version)
    return TrainingOutcome(
        candidate=candidate,
        baseline=base.report,
        baseline_name=base.version.name if base.version else SHIPPED_MODEL,
        verdict=verdict,
        stored=stored,
        first_version=base.first,
        same_examples=same,
        examples=counts,
        evaluation_count=len(evaluation),
        baseline_threshold=base.model.threshold,
        frozen_baseline=evaluate(base.model.classify_text, frozen),
        frozen_candidate=frozen_candidate,
    )


@dataclass(frozen=True, slots=True)
class _Baseline:
    """The model a candidate is compared with, its report on the evaluation set, the version it
    is (``None``: the shipped model, not stored) and whether it was stored just now."""

    model: LocalIntentClassifier
    report: EvaluationReport
    version: ModelVersion | None
    first: ModelVersion | None


async def _baseline(
    registry: ModelRegistry,
    shipped: TrainingData,
    evaluation: Sequence[Example],
    *,
    cache_dir: Path,
    threshold: float | None,
    dry_run: bool,
    progress: Callable[[str], None],
) -> _Baseline:
    """The active version; when there is none, the shipped model, stored as the first version
    (unless ``dry_run``) — or, when another run stored one meanwhile, that one."""
    active = await registry.active()
    if active is None:
        progress("training the shipped model (no version stored yet)")
        model = await asyncio.to_thread(load_or_train, shipped, cache_dir, threshold=threshold)
        report = evaluate(model.classify_text, evaluation)
        if dry_run:
            return _Baseline(model, report, None, None)
        draft = _version(shipped, 0, report, PROMOTED, SHIPPED_MODEL)
        first = await registry.add_first(model, draft)
        if first is not None:
            return _Baseline(model, report, first, first)
        active = await registry.active()
        assert active is not None  # another run stored it; the pointer is never removed
    model = await registry.load(active)
    return _Baseline(model, evaluate(model.classify_text, evaluation), active, None)


async def _trained_on(registry: ModelRegistry, fingerprint: str) -> ModelVersion | None:
    """The newest stored version (a promoted one first) trained on exactly the training set
    ``fingerprint``, leaving out those superseded while they were trained (train them again)."""
    versions = await registry.versions()
    same = [v for v in versions if v.fingerprint == fingerprint and not v.superseded]
    promoted = [v for v in same if v.status == PROMOTED]
    return (promoted or same)[-1] if same else None


async def _store(
    registry: ModelRegistry,
    candidate: CandidateModel,
    verdict: Verdict,
    compared_with: ModelVersion | None,
) -> ModelVersion:
    """Store ``candidate``, made active only if it was promoted and ``compared_with`` is still
    the active version (see :meth:`ModelRegistry.add`)."""
    status = PROMOTED if verdict.promoted else REJECTED
    draft = _version(
        candidate.data, candidate.accepted_examples, candidate.report, status, verdict.reason
    )
    return await registry.add(
        candidate.classifier,
        draft,
        activate=verdict.promoted,
        compared_with=compared_with.number if compared_with else None,
    )


def _counts(accepted: Sequence[Example], usable: Sequence[Example], trained: int) -> AcceptedCounts:
    held_out = sum(1 for e in usable if is_held_out(e))
    names = {e.intent for e in accepted}
    kept = {e.intent for e in usable} | {OUT_OF_SCOPE}
    return AcceptedCounts(
        total=len(accepted),
        trained=trained,
        held_out=held_out,
        duplicates=len(usable) - held_out - trained,
        skipped=len(accepted) - len(usable),
        skipped_intents=tuple(sorted(names - kept)),
    )


def _known(accepted: Iterable[Example], shipped: TrainingData) -> list[Example]:
    """The accepted examples of intents the shipped data has (or out of scope)."""
    names = set(shipped.intents) | {UNKNOWN, OUT_OF_SCOPE}
    return [
        Example(e.text, UNKNOWN if e.intent == OUT_OF_SCOPE else e.intent)
        for e in accepted
        if e.intent in names
    ]


def _version(
    data: TrainingData, accepted: int, report: EvaluationReport, status: str, reason: str
) -> ModelVersion:
    """Version metadata before storing (number, sha256 and size are filled in by the registry)."""
    return ModelVersion(
        number=0,
        status=status,
        reason=reason,
        created_at=utcnow(),
        fingerprint=data.fingerprint(),
        training_examples=sum(len(t) for t in data.intents.values()) + len(data.out_of_scope),
        accepted_examples=accepted,
        report=report,
        sha256="",
        size=0,
    )
