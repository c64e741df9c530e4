"""Accuracy and per-word latency of the spelling stage on Norvig's spelling test sets.

Not a test: a script whose figures can be quoted. It compares ``core.spelling.SpellingCorrector``
(no shop vocabulary, cache off so every word pays for its search; at the default
``distance2_max_length`` of 8 and at 12) with plain pyspellchecker at
edit distance 2 and 1. Usage, from the repository root::

    .venv/bin/python bench/spelling_norvig.py [DATASETS_DIR]

``DATASETS_DIR`` holds ``norvig_spell_testsets/`` (default: ``../shared/datasets`` beside the repo).
Latency is this process's CPU time per word (the work is CPU-bound), so other load on the machine
does not inflate it the way wall-clock time would.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))  # run as a plain script: make `core` importable

from spellchecker import SpellChecker  # noqa: E402

from core.spelling import SpellingCorrector  # noqa: E402

__all__ = ["main"]

Pair = tuple[str, str]


def load_pairs(path: Path) -> list[Pair]:
    """(misspelled, correct) pairs of one TSV test set, header skipped."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return [(row[0], row[1]) for row in rows[1:] if len(row) >= 2]


def evaluate(fix: Callable[[str], str], pairs: list[Pair]) -> tuple[float, float, float, float]:
    """Accuracy, share of words changed, and p50/p99 CPU time per word in milliseconds."""
    right = changed = 0
    latencies: list[float] = []
    for wrong, correct in pairs:
        started = time.process_time_ns()
        answer = fix(wrong)
        latencies.append((time.process_time_ns() - started) / 1e6)
        right += answer == correct
        changed += answer != wrong
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return right / len(pairs), changed / len(pairs), cuts[49], cuts[98]


def contenders() -> dict[str, Callable[[str], str]]:
    """The spelling functions compared, each mapping one word to its correction."""
    ours = SpellingCorrector(cache_size=0)
    # Words up to 12 letters also get the distance-2 search: shows what that setting buys.
    wider = SpellingCorrector(cache_size=0, distance2_max_length=12)
    plain2 = SpellChecker(distance=2)
    plain1 = SpellChecker(distance=1)
    return {
        "shopbot (distance2 <= 8)": lambda w: ours.correct_text(w).text,
        "shopbot (distance2 <= 12)": lambda w: wider.correct_text(w).text,
        "pyspellchecker distance 2": lambda w: plain2.correction(w) or w,
        "pyspellchecker distance 1": lambda w: plain1.correction(w) or w,
    }


def main(argv: list[str] | None = None) -> int:
    """Print one table row per (test set, contender)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "datasets", nargs="?", type=Path, default=REPO.parent / "shared" / "datasets"
    )
    args = parser.parse_args(argv)
    folder = args.datasets / "norvig_spell_testsets"
    if not folder.is_dir():
        folder = args.datasets
    sets = sorted(folder.glob("norvig_spell_testset*.tsv"))
    if not sets:
        print(f"no norvig_spell_testset*.tsv under {args.datasets}", file=sys.stderr)
        return 2
    fixers = contenders()
    print(
        f"{'test set':<28} {'corrector':<27} {'words':>5} {'accuracy':>8} {'changed':>8}"
        f" {'p50 ms':>7} {'p99 ms':>7}  (CPU)"
    )
    for path in sets:
        pairs = load_pairs(path)
        for name, fix in fixers.items():
            accuracy, changed, p50, p99 = evaluate(fix, pairs)
            print(
                f"{path.name:<28} {name:<27} {len(pairs):>5} {accuracy:>8.1%} {changed:>8.1%}"
                f" {p50:>7.3f} {p99:>7.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
