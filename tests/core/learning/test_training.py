"""Training a new model version from accepted examples, and the promotion rule on real models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import CONFIG_DIR
from core.intents import TrainingData, load_training_data
from core.learning.evaluation import UNKNOWN, load_evaluation_set
from core.learning.registry import PROMOTED, REJECTED, ModelRegistry
from core.learning.training import (
    HOLDOUT_MODULUS,
    AcceptedCounts,
    evaluation_examples,
    is_held_out,
    merge_examples,
    train_candidate,
    train_version,
)
from core.learning.types import Example
from core.storage import SQLConversationStore
from tests.conftest import TestDatabase
from tests.core.learning.examples import GERMAN_ORDER_STATUS

NEW_PHRASINGS = ["wo ist mein paket bitte", "ist mein paket schon verschickt worden"]

# Return requests mislabelled as wanting a human (a careless review): they must not get in.
MISLABELLED_RETURNS = [
    "i want to return my order",
    "how do i send this back to you",
    "can i get a refund for this",
    "please refund my purchase",
    "return this item please",
    "how long is the return window",
    "can i return an opened box",
    "how long do refunds usually take",
    "i would like to exchange this for another size",
    "i want my money back for this",
    "can you send me a return label",
    "is this item refundable",
    "i need to send back the thing i bought",
    "start a refund for my last order",
    "returning a gift i received",
    "my refund has not arrived yet",
    "what is the policy on returns",
    "can i return it after 30 days",
    "i'd like to send the shoes back, they don't fit",
    "how many days have i got to send something back",
    "can i swap this for a bigger one",
    "when does the money from my return reach my card",
    "is my order still eligible for a refund",
    "it arrived broken and i want a refund",
    "who pays the postage for returns",
    "i changed my mind, can i send it back",
    "refunds for opened items, what's the policy",
    "i returned the parcel weeks ago and still no refund",
    "exchange a present without a receipt",
    "how do i begin a return",
    "can sale items be refunded",
    "wrong colour arrived, i want to swap it",
    "store credit instead of my refund please",
]


@pytest.fixture(scope="module")
def shipped() -> TrainingData:
    return load_training_data(CONFIG_DIR / "intents.yaml")


@pytest.fixture(scope="module")
def frozen() -> tuple[Example, ...]:
    return load_evaluation_set(CONFIG_DIR / "evaluation.yaml")


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[ModelRegistry]:
    store = SQLConversationStore(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    await store.start()
    yield ModelRegistry(store)
    await store.stop()


def test_one_in_five_accepted_examples_is_held_out_for_good() -> None:
    examples = [
        Example(f"where is my parcel number {i} {w}", "order_status")
        for i, w in enumerate(["a", "b", "c", "d", "e", "f", "g", "h"] * 50)
    ]
    held = [e for e in examples if is_held_out(e)]
    assert 0.12 < len(held) / len(examples) < 0.28  # about 1 in HOLDOUT_MODULUS
    assert HOLDOUT_MODULUS == 5
    # The same text (after normalisation) is always on the same side, whatever its label.
    assert is_held_out(Example("Wo ist  meine Bestellung", "greeting")) == is_held_out(
        Example("wo ist meine bestellung", "order_status")
    )


def test_training_never_sees_the_evaluation_set(
    shipped: TrainingData, frozen: tuple[Example, ...]
) -> None:
    accepted = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    accepted += [Example(frozen[0].text.upper(), frozen[0].intent)]  # a frozen message again
    accepted += [Example("wo bleibt mein paket", "order_status")]  # a duplicate
    evaluation = evaluation_examples(frozen, accepted)
    held = [e for e in accepted if is_held_out(e)]
    assert held and all(e in evaluation for e in held)
    data, added = merge_examples(shipped, accepted, evaluation)
    trained = set(data.intents["order_status"])
    assert not trained & {e.text for e in evaluation}
    assert added == len(GERMAN_ORDER_STATUS) - len(held)
    assert len(data.intents["order_status"]) == len(shipped.intents["order_status"]) + added


async def test_accepted_examples_teach_a_new_phrasing_and_the_version_is_promoted(
    registry: ModelRegistry, shipped: TrainingData, frozen: tuple[Example, ...], model_dir: Path
) -> None:
    accepted = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    outcome = await train_version(
        registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    versions = await registry.versions()
    assert [(v.name, v.status) for v in versions] == [("v1", PROMOTED), ("v2", PROMOTED)]
    active = await registry.active()
    assert active is not None and active.name == "v2"
    assert outcome.verdict is not None and outcome.verdict.promoted
    assert outcome.candidate is not None
    assert outcome.candidate.report.macro_f1 >= outcome.baseline.macro_f1
    assert versions[1].accepted_examples == outcome.candidate.accepted_examples > 0
    assert versions[1].training_examples == versions[0].training_examples + (
        outcome.candidate.accepted_examples
    )
    shipped_model = await registry.load(versions[0])
    new_model = await registry.load(versions[1])
    for text in NEW_PHRASINGS:
        assert shipped_model.classify_text(text).intent is None
        assert new_model.classify_text(text).intent == "order_status"
    # Training again on the same examples makes no new version.
    again = await train_version(
        registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    assert again.candidate is None and again.stored is None
    assert len(await registry.versions()) == 2


async def test_a_candidate_that_breaks_an_intent_is_rejected_with_the_reason(
    registry: ModelRegistry, shipped: TrainingData, frozen: tuple[Example, ...], model_dir: Path
) -> None:
    accepted = [Example(t, "human_agent") for t in MISLABELLED_RETURNS]
    outcome = await train_version(
        registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    assert outcome.verdict is not None and not outcome.verdict.promoted
    versions = await registry.versions()
    assert [(v.name, v.status) for v in versions] == [("v1", PROMOTED), ("v2", REJECTED)]
    assert "return_policy F1 fell from" in versions[1].reason
    assert versions[1].reason == outcome.verdict.reason
    active = await registry.active()
    assert active is not None and active.name == "v1"  # still the shipped model
    # Training again on the same examples stores no second rejected copy.
    again = await train_version(
        registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    assert again.candidate is None and again.stored is None
    assert again.same_examples is not None and again.same_examples.name == "v2"
    assert len(await registry.versions()) == 2


async def test_dry_run_stores_nothing(
    registry: ModelRegistry, shipped: TrainingData, frozen: tuple[Example, ...], model_dir: Path
) -> None:
    accepted = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS[:6]]
    outcome = await train_version(
        registry,
        shipped,
        accepted,
        frozen,
        max_f1_drop=0.02,
        cache_dir=model_dir / "models",
        dry_run=True,
    )
    assert outcome.stored is None and outcome.first_version is None
    assert outcome.candidate is not None and outcome.candidate.report.count == (
        outcome.evaluation_count
    )
    assert await registry.versions() == []
    assert UNKNOWN in outcome.baseline.per_label


def test_training_does_not_depend_on_the_order_of_the_accepted_examples(
    shipped: TrainingData, frozen: tuple[Example, ...]
) -> None:
    # Accepted examples come from the database in an order following conversation ids
    # (random): the same examples in another order must give the very same model.
    accepted = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    accepted += [Example(t, "return_policy") for t in MISLABELLED_RETURNS[:12]]
    shuffled = accepted[::-1]
    shuffled = shuffled[1::2] + shuffled[::2]
    assert shuffled != accepted and sorted(shuffled, key=str) == sorted(accepted, key=str)
    models = []
    for examples in (accepted, shuffled):
        evaluation = evaluation_examples(frozen, examples)
        models.append(train_candidate(shipped, examples, evaluation))
    first, second = models
    assert first.data == second.data
    assert first.data.fingerprint() == second.data.fingerprint()
    assert first.classifier.calibrated_threshold == second.classifier.calibrated_threshold
    assert first.report == second.report
    probes = [e.text for e in frozen] + NEW_PHRASINGS
    assert [first.classifier.classify_text(t) for t in probes] == [
        second.classifier.classify_text(t) for t in probes
    ]


async def test_accepted_examples_are_accounted_for(
    registry: ModelRegistry, shipped: TrainingData, frozen: tuple[Example, ...], model_dir: Path
) -> None:
    accepted = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    accepted += [Example(shipped.intents["greeting"][0], "greeting")]  # a shipped example
    accepted += [Example(t, "gift_cards") for t in ("redeem my gift card", "gift card balance")]
    outcome = await train_version(
        registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    held = sum(is_held_out(Example(t, "order_status")) for t in GERMAN_ORDER_STATUS)
    assert outcome.stored is not None
    assert outcome.examples == AcceptedCounts(
        total=len(GERMAN_ORDER_STATUS) + 3,
        trained=len(GERMAN_ORDER_STATUS) - held,
        held_out=held,
        duplicates=1,
        skipped=2,
        skipped_intents=("gift_cards",),
    )
    assert outcome.stored.accepted_examples == outcome.examples.trained


@pytest.fixture
async def shared_database(database: TestDatabase) -> AsyncIterator[list[ModelRegistry]]:
    """Two registries on one database, as two `learn train` processes (or a `learn train` and a
    `model rollback`) have them."""
    stores = [
        SQLConversationStore(database.url, connect_args=database.connect_args) for _ in range(2)
    ]
    for store in stores:
        await store.start()
    yield [ModelRegistry(store) for store in stores]
    for store in stores:
        await store.stop()


async def test_two_runs_at_once_store_one_shipped_model_and_promote_one_version(
    shared_database: list[ModelRegistry],
    shipped: TrainingData,
    frozen: tuple[Example, ...],
    model_dir: Path,
) -> None:
    examples = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    runs = [
        train_version(
            registry, shipped, accepted, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
        )
        for registry, accepted in zip(shared_database, (examples, examples[:6]), strict=True)
    ]
    outcomes = await asyncio.gather(*runs)
    versions = await shared_database[0].versions()
    assert [(v.name, v.status, v.reason) for v in versions[:1]] == [
        ("v1", PROMOTED, "the shipped model")
    ]
    assert sum(o.first_version is not None for o in outcomes) == 1
    assert all(o.baseline_name == "v1" for o in outcomes)  # both compared with the stored v1
    assert all(o.verdict is not None and o.verdict.promoted for o in outcomes)
    assert sorted((v.name, v.status) for v in versions[1:]) == [("v2", PROMOTED), ("v3", REJECTED)]
    assert versions[2].reason == "v2 became active while this version was trained; train again"
    assert await shared_database[1].active_number() == 2


async def test_a_rollback_during_training_is_not_undone(
    shared_database: list[ModelRegistry],
    shipped: TrainingData,
    frozen: tuple[Example, ...],
    model_dir: Path,
) -> None:
    trainer, operator = shared_database
    examples = [Example(t, "order_status") for t in GERMAN_ORDER_STATUS]
    await train_version(
        trainer, shipped, examples[:6], frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    assert await operator.active_number() == 2
    training = asyncio.Event()

    def progress(step: str) -> None:
        if step.startswith("training on"):
            training.set()

    run = asyncio.create_task(
        train_version(
            trainer,
            shipped,
            examples,
            frozen,
            max_f1_drop=0.02,
            cache_dir=model_dir / "models",
            progress=progress,
        )
    )
    await training.wait()
    await operator.rollback("v1")
    outcome = await run
    assert outcome.baseline_name == "v2" and outcome.stored is not None
    assert (outcome.stored.name, outcome.stored.status, outcome.stored.reason) == (
        "v3",
        REJECTED,
        "v1 became active while this version was trained; train again",
    )
    assert await operator.active_number() == 1  # the rollback holds
    # Trained again on the same examples, it is compared with v1 this time.
    again = await train_version(
        trainer, shipped, examples, frozen, max_f1_drop=0.02, cache_dir=model_dir / "models"
    )
    assert again.baseline_name == "v1" and again.stored is not None
    assert (again.stored.name, again.stored.status) == ("v4", PROMOTED)
    assert await operator.active_number() == 4
