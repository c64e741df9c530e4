"""Which stored intent model a server serves when the training file's intents changed after
it was trained (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.intents import load_or_train, train_classifier
from core.learning.evaluation import evaluate
from core.learning.registry import PROMOTED, ModelRegistry, ModelVersion
from core.learning.types import Example
from core.types import utcnow
from tests.conftest import TestDatabase
from tests.core.learning.servers import TWO_INTENTS, intent_of, start_server
from tests.waiting import eventually

RETURN_QUESTION = "can I send back shoes that don't fit"


async def _store_earlier_model(registry: ModelRegistry, *, activate: bool) -> ModelVersion:
    model = train_classifier(TWO_INTENTS)  # the shop's first training file had two intents
    report = evaluate(model.classify_text, [Example("where is my order", "order_status")])
    draft = ModelVersion(0, PROMOTED, "", utcnow(), "e" * 64, 14, 0, report, "", 0)
    return await registry.add(model, draft, activate=activate)


async def test_a_version_trained_for_other_intents_is_not_served(
    database: TestDatabase, model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="shopbot.app")
    first = await start_server(database, model_dir, tmp_path / "first")
    try:
        # Stored while the file had two intents; the file now has seven (return_policy, ...).
        await _store_earlier_model(ModelRegistry(first.store), activate=True)
        later = await start_server(database, model_dir, tmp_path / "later")
        try:
            assert later.model_version == "shipped"
            assert await intent_of(later, RETURN_QUESTION) == "return_policy"
        finally:
            await later.stop()
        # A running server does not switch to it either.
        await eventually(
            lambda: (
                sum("v1 was trained for other intents" in r.message for r in caplog.records) >= 2
            ),
            "the running server refuses v1 too",
        )
        assert first.model_version == "shipped"
        assert await intent_of(first, RETURN_QUESTION) == "return_policy"
    finally:
        await first.stop()
    warning = next(r.message for r in caplog.records if "v1 was trained" in r.message)
    assert "not in the model: goodbye, human_agent, product_info, return_policy" in warning
    assert "run `shopbot learn train`" in warning


async def test_a_damaged_metrics_row_of_an_older_version_does_not_stop_a_server(
    database: TestDatabase, model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("ERROR", logger="shopbot.app")
    first = await start_server(database, model_dir, tmp_path / "first")
    try:
        registry = ModelRegistry(first.store)
        shipped = load_or_train(first.training_data, model_dir / "models")
        report = evaluate(shipped.classify_text, [Example("where is my order", "order_status")])
        for number in (1, 2):  # v1, then v2 made active after it
            draft = ModelVersion(0, PROMOTED, "", utcnow(), f"{number}" * 64, 1, 0, report, "", 0)
            stored = await registry.add(
                shipped, draft, activate=True, compared_with=number - 1 or None
            )
        assert stored.name == "v2"
        engine = create_async_engine(database.url, connect_args=dict(database.connect_args))
        try:
            async with engine.begin() as conn:  # v1's metrics, as a bad manual edit leaves them
                await conn.execute(text("UPDATE model_versions SET metrics = '{}' WHERE id = 1"))
        finally:
            await engine.dispose()
        later = await start_server(database, model_dir, tmp_path / "later")
        try:
            assert later.model_version == "v2"
        finally:
            await later.stop()
    finally:
        await first.stop()
    assert any("model v1: its stored metrics are damaged" in r.message for r in caplog.records)
