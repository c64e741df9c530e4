"""The public datasets the learning-loop benchmarks read (never copied into the project).

Bitext customer support (CDLA-Sharing-1.0) and CLINC150 (CC BY 3.0) are read as JSON lines from
a datasets directory: ``--datasets PATH``, else ``$SHOPBOT_DATASETS``, else
``/work/shared/datasets`` or ``../shared/datasets`` beside the checkout, whichever exists.
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.learning.evaluation import UNKNOWN
from core.learning.types import Example

__all__ = [
    "BITEXT_TO_SHOP",
    "Datasets",
    "Utterance",
    "find_datasets",
    "split_halves",
]

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_PLACES = (Path("/work/shared/datasets"), REPO.parent / "shared" / "datasets")

BITEXT_TO_SHOP: Mapping[str, str] = {
    "track_order": "order_status",
    "check_refund_policy": "return_policy",
    "get_refund": "return_policy",
    "contact_human_agent": "human_agent",
    "contact_customer_service": "human_agent",
    "recover_password": "tech_support",
    "registration_problems": "tech_support",
}
"""The Bitext intents the shipped model covers, and the shop intent each one is (issue 6)."""

_REQUIRED = (
    "bitext_customer_support/train.jsonl",
    "bitext_customer_support/test.jsonl",
    "clinc150/train.jsonl",
    "clinc150/val.jsonl",
    "clinc150/test.jsonl",
    "clinc150/oos_train.jsonl",
    "clinc150/oos_val.jsonl",
    "clinc150/oos_test.jsonl",
)


@dataclass(frozen=True, slots=True)
class Utterance:
    """One dataset row: its text and the dataset's own intent name."""

    text: str
    intent: str


def find_datasets(given: Path | None) -> tuple[Path | None, Path]:
    """The datasets directory to read, when it holds every file needed, and where it looked last
    (for the "skipped" message)."""
    env = os.environ.get("SHOPBOT_DATASETS")
    places = [given] if given is not None else [Path(env)] if env else list(_DEFAULT_PLACES)
    for place in places:
        if all((place / name).is_file() for name in _REQUIRED):
            return place, place
    return None, places[-1]


def _read(path: Path) -> tuple[Utterance, ...]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return tuple(Utterance(str(row["text"]), str(row["intent"])) for row in rows)


@dataclass(frozen=True, slots=True)
class Datasets:
    """The splits the benchmarks use, read once."""

    bitext_train: tuple[Utterance, ...]
    bitext_test: tuple[Utterance, ...]
    clinc_train: tuple[Utterance, ...]
    clinc_val: tuple[Utterance, ...]
    clinc_test: tuple[Utterance, ...]
    clinc_oos_train: tuple[Utterance, ...]
    clinc_oos_val: tuple[Utterance, ...]
    clinc_oos_test: tuple[Utterance, ...]

    @classmethod
    def read(cls, root: Path) -> Datasets:
        bitext, clinc = root / "bitext_customer_support", root / "clinc150"
        return cls(
            bitext_train=_read(bitext / "train.jsonl"),
            bitext_test=_read(bitext / "test.jsonl"),
            clinc_train=_read(clinc / "train.jsonl"),
            clinc_val=_read(clinc / "val.jsonl"),
            clinc_test=_read(clinc / "test.jsonl"),
            clinc_oos_train=_read(clinc / "oos_train.jsonl"),
            clinc_oos_val=_read(clinc / "oos_val.jsonl"),
            clinc_oos_test=_read(clinc / "oos_test.jsonl"),
        )

    def mapped_bitext_test(self) -> tuple[Utterance, ...]:
        """Bitext test utterances of the intents the shipped model covers (shop intent names)."""
        return tuple(
            Utterance(u.text, BITEXT_TO_SHOP[u.intent])
            for u in self.bitext_test
            if u.intent in BITEXT_TO_SHOP
        )

    def clinc_all_unknown(self) -> tuple[Example, ...]:
        """Every CLINC150 test and oos_test query, expected to come out unknown."""
        return tuple(Example(u.text, UNKNOWN) for u in (*self.clinc_test, *self.clinc_oos_test))


def split_halves(
    utterances: Sequence[Utterance], seed: int
) -> tuple[tuple[Utterance, ...], tuple[Utterance, ...]]:
    """Two halves, stratified by intent (each intent's rows shuffled with ``seed``, the first
    half of each to A, the rest to B)."""
    groups: dict[str, list[Utterance]] = defaultdict(list)
    for utterance in utterances:
        groups[utterance.intent].append(utterance)
    rng = random.Random(seed)
    first: list[Utterance] = []
    second: list[Utterance] = []
    for intent in sorted(groups):
        rows = groups[intent]
        rng.shuffle(rows)
        first += rows[: len(rows) // 2]
        second += rows[len(rows) // 2 :]
    return tuple(first), tuple(second)
