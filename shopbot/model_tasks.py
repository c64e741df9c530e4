"""What ``shopbot learn train``, ``model list | promote | rollback`` and ``eval`` do
(``shopbot.model_commands`` parses them and imports this module only when one runs)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from config.settings import Settings
from core.learning.evaluation import (
    UNKNOWN,
    EvaluationFileError,
    EvaluationReport,
    evaluate,
    load_evaluation_set,
    read_jsonl,
    write_confusion_png,
)
from core.learning.registry import PROMOTED, ModelRegistry, ModelVersion
from core.learning.types import Example
from core.storage import SQLConversationStore
from shopbot.app import training_data
from shopbot.model_commands import EVALUATION_SET

if TYPE_CHECKING:  # scikit-learn loads only in the commands that need it
    from core.intents import LocalIntentClassifier
    from core.learning.training import AcceptedCounts, TrainingOutcome

__all__ = [
    "eval_command",
    "format_report",
    "list_command",
    "promote_command",
    "rollback_command",
    "train_command",
]

_PROGRESS_FROM = 200  # messages; shorter evaluations finish before a bar would help


@asynccontextmanager
async def _registry(
    settings: Settings,
) -> AsyncIterator[tuple[SQLConversationStore, ModelRegistry]]:
    store = SQLConversationStore(settings.database_url, echo=settings.storage.echo)
    await store.start()
    try:
        yield store, ModelRegistry(store, threshold=settings.nlu.threshold)
    finally:
        await store.stop()


async def train_command(settings: Settings, args: argparse.Namespace) -> int:
    from core.learning.training import train_version

    shipped = training_data(settings)
    frozen = load_evaluation_set(EVALUATION_SET)
    async with _registry(settings) as (store, registry):
        accepted = await store.accepted_examples()
        outcome = await train_version(
            registry,
            shipped,
            accepted,
            frozen,
            max_f1_drop=settings.learning.max_f1_drop,
            cache_dir=settings.data_dir / "models",
            threshold=settings.nlu.threshold,
            dry_run=args.dry_run,
            progress=lambda step: print(f"... {step}", file=sys.stderr),
        )
    if outcome.first_version is not None:
        print(f"Stored the shipped model as {outcome.first_version.name} (active).")
    print(f"{_accounting(outcome.examples)}; evaluating on {outcome.evaluation_count} messages.")
    if outcome.candidate is None or outcome.verdict is None:
        print(_nothing_new(outcome))
        return 0
    baseline_name = outcome.baseline_name
    assert outcome.frozen_candidate is not None  # set whenever there is a candidate
    print(
        _comparison(
            (outcome.baseline, outcome.candidate.report),
            (outcome.frozen_baseline, outcome.frozen_candidate),
            baseline_name,
        )
    )
    print(
        f"unknown below confidence {outcome.baseline_threshold:.2f} ({baseline_name}), "
        f"{outcome.candidate.classifier.threshold:.2f} (new)"
    )
    verdict = outcome.verdict
    if args.dry_run:
        decision = "would be promoted" if verdict.promoted else "would be rejected"
        print(f"Dry run: {decision}: {verdict.reason}. Nothing stored.")
        return 0
    stored = outcome.stored
    assert stored is not None
    if stored.status == PROMOTED:
        interval = settings.learning.reload_interval_seconds
        print(f"{stored.name} promoted and active: {stored.reason}.")
        print(f"Running servers switch to it within {interval:g} s.")
        return 0
    print(f"{stored.name} rejected: {stored.reason}.")
    if not verdict.promoted:  # otherwise it lost the race to another version: train again
        print(f"It is stored; `shopbot model promote {stored.name} --force` activates it anyway.")
    return 1


def _accounting(counts: AcceptedCounts) -> str:
    """What became of the accepted examples: trained on, held out, skipped (intents named)."""
    parts = [f"{counts.trained} trained on", f"{counts.held_out} held out for evaluation"]
    if counts.duplicates:
        parts.append(f"{counts.duplicates} already known (a shipped or evaluation example)")
    if counts.skipped:
        intents = ", ".join(counts.skipped_intents)
        parts.append(f"{counts.skipped} skipped (intents not in the training file: {intents})")
    return f"{counts.total} accepted example(s): {', '.join(parts)}"


def _nothing_new(outcome: TrainingOutcome) -> str:
    same = outcome.same_examples
    if same is None:
        return f"Nothing new to train on: {outcome.baseline_name} already has these examples."
    return (
        f"Nothing new to train on: {same.name} ({same.status}) was trained on exactly "
        "these examples."
    )


def _comparison(
    whole: tuple[EvaluationReport, EvaluationReport],
    frozen: tuple[EvaluationReport, EvaluationReport],
    baseline: str,
) -> str:
    """The baseline and the new model side by side: their reports on the whole evaluation set,
    then the macro-F1 of their reports on the frozen examples alone."""
    before, after = whole
    rows = [
        ("accuracy", before.accuracy, after.accuracy),
        ("macro-F1", before.macro_f1, after.macro_f1),
        ("out-of-scope precision", before.oos_precision, after.oos_precision),
        ("out-of-scope recall", before.oos_recall, after.oos_recall),
        ("false-accept rate", before.false_accept_rate, after.false_accept_rate),
    ]
    rows += [
        (f"F1 {label}", scores.f1, after.per_label[label].f1 if label in after.per_label else 0.0)
        for label, scores in before.per_label.items()
    ]
    rows.append(("macro-F1, evaluation.yaml only", frozen[0].macro_f1, frozen[1].macro_f1))
    width = max(len(name) for name, _, _ in rows)
    column = max(12, len(baseline))
    lines = [f"{'':{width}}  {baseline:>{column}}  {'new':>8}"]
    lines += [
        f"{name:{width}}  {old:{column}.3f}  {new:8.3f}  {_delta(new - old)}"
        for name, old, new in rows
    ]
    return "\n".join(lines)


def _delta(change: float) -> str:
    return "" if abs(change) < 0.0005 else f"{change * 100:+.1f} pts"


async def list_command(settings: Settings, args: argparse.Namespace) -> int:
    async with _registry(settings) as (_, registry):
        versions = await registry.versions()
        active = await registry.active()
    if not versions:
        print(
            "No model version stored yet: servers use the shipped model. Run `shopbot learn train`."
        )
        return 0
    print(
        f"  {'version':8} {'status':9} {'created (UTC)':17} {'examples':>8} {'accepted':>8} "
        f"{'accuracy':>8} {'macro-F1':>8} {'OOS rec.':>8}"
    )
    for version in versions:
        print(_row(version, active is not None and version.number == active.number))
    for version in versions:
        if version.status == "rejected":
            print(f"{version.name} rejected: {version.reason}")
    return 0


def _row(version: ModelVersion, active: bool) -> str:
    report = version.report
    return (
        f"{'*' if active else ' '} {version.name:8} {version.status:9} "
        f"{version.created_at:%Y-%m-%d %H:%M} {version.training_examples:8d} "
        f"{version.accepted_examples:8d} {report.accuracy:8.3f} {report.macro_f1:8.3f} "
        f"{report.oos_recall:8.3f}"
    )


async def promote_command(settings: Settings, args: argparse.Namespace) -> int:
    async with _registry(settings) as (_, registry):
        version = await registry.promote(args.version, force=args.force)
    print(_activated(version, settings))
    return 0


async def rollback_command(settings: Settings, args: argparse.Namespace) -> int:
    async with _registry(settings) as (_, registry):
        version = await registry.rollback(args.version)
    print(_activated(version, settings))
    return 0


def _activated(version: ModelVersion, settings: Settings) -> str:
    interval = settings.learning.reload_interval_seconds
    return f"{version.name} is now active; running servers switch to it within {interval:g} s."


async def eval_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        examples = read_jsonl(args.file)
    except EvaluationFileError as exc:
        print(f"shopbot eval: {exc}", file=sys.stderr)
        return 2
    from core.intents import load_or_train

    classifier: LocalIntentClassifier | None = None
    name = "the shipped model"
    async with _registry(settings) as (_, registry):
        version = await (registry.get(args.model) if args.model else registry.active())
        if version is not None:
            classifier, name = await registry.load(version), version.name
    if classifier is None:
        classifier = await asyncio.to_thread(
            load_or_train,
            training_data(settings),
            settings.data_dir / "models",
            threshold=settings.nlu.threshold,
        )
    unknown = sorted({e.intent for e in examples} - {*classifier.intents, UNKNOWN})
    if unknown:  # a typo in the file, or an intent this model was trained without
        print(
            f"shopbot eval: warning: {name} does not know the intent(s) "
            f"{', '.join(unknown)} of {args.file}: those lines can only count as misses",
            file=sys.stderr,
        )
    report = evaluate(classifier.classify_text, examples, progress=_progress_bar(examples))
    print(f"Evaluated {report.count} messages from {args.file} with {name}.")
    print(format_report(report))
    if args.png is not None:
        write_confusion_png(report, args.png)
        print(f"Confusion matrix: {args.png}")
    return 0


def _progress_bar(
    examples: tuple[Example, ...],
) -> Callable[[Iterable[Example]], Iterable[Example]] | None:
    if len(examples) < _PROGRESS_FROM:
        return None
    from tqdm import tqdm

    def bar(items: Iterable[Example]) -> Iterable[Example]:
        return tqdm(items, total=len(examples), file=sys.stderr, unit="msg", desc="evaluating")

    return bar


def format_report(report: EvaluationReport) -> str:
    """The report as ``shopbot eval`` prints it: totals, per-intent scores, the misses."""
    lines = [
        f"accuracy {report.accuracy:.3f}   macro-F1 {report.macro_f1:.3f}",
        f"out of scope: precision {report.oos_precision:.3f}   recall {report.oos_recall:.3f}"
        f"   false-accept rate {report.false_accept_rate:.3f}",
        "",
        f"{'intent':20} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}",
    ]
    lines += [
        f"{label:20} {s.precision:9.3f} {s.recall:7.3f} {s.f1:7.3f} {s.support:8d}"
        for label, s in report.per_label.items()
    ]
    lines += ["", f"Misclassified: {len(report.misses)}"]
    lines += [
        f"  {miss.text!r}: expected {miss.expected}, got {miss.got} ({miss.confidence:.2f})"
        for miss in report.misses
    ]
    return "\n".join(lines)
