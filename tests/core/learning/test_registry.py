"""Model versions in the database (SQLite and PostgreSQL): store, list, load, promote, roll back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from config.settings import CONFIG_DIR
from core.intents import (
    LocalIntentClassifier,
    load_or_train,
    load_training_data,
    train_classifier,
)
from core.learning.evaluation import UNKNOWN, EvaluationReport, evaluate, load_evaluation_set
from core.learning.registry import (
    PROMOTED,
    REJECTED,
    ModelArtifactError,
    ModelRegistry,
    ModelRegistryError,
    ModelReloader,
    ModelVersion,
    parse_version,
)
from core.learning.training import train_candidate
from core.learning.types import Example
from core.storage import SQLConversationStore
from core.storage.schema import model_versions
from core.types import utcnow
from tests.conftest import TestDatabase
from tests.core.learning.examples import GERMAN_ORDER_STATUS
from tests.core.learning.servers import TWO_INTENTS, intent_of, start_server
from tests.waiting import eventually

EXAMPLES = [
    Example("where's my parcel", "order_status"),
    Example("hello there", "greeting"),
    Example("tell me a story", UNKNOWN),
]


@pytest.fixture(scope="module")
def small_model() -> LocalIntentClassifier:
    return train_classifier(TWO_INTENTS)


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[SQLConversationStore]:
    opened = SQLConversationStore(database.url, connect_args=database.connect_args)
    await opened.start()
    yield opened
    await opened.stop()


def _draft(model: LocalIntentClassifier, status: str, reason: str = "") -> ModelVersion:
    report: EvaluationReport = evaluate(model.classify_text, EXAMPLES)
    return ModelVersion(0, status, reason, utcnow(), "f" * 64, 16, 2, report, "", 0)


async def test_versions_are_stored_with_their_metrics_and_load_back(
    store: SQLConversationStore, small_model: LocalIntentClassifier
) -> None:
    registry = ModelRegistry(store)
    assert await registry.active() is None and await registry.versions() == []
    first = await registry.add(small_model, _draft(small_model, PROMOTED), activate=True)
    second = await registry.add(small_model, _draft(small_model, REJECTED, "worse"), activate=False)
    assert (first.name, second.name) == ("v1", "v2")
    listed = await registry.versions()
    assert [(v.name, v.status, v.reason) for v in listed] == [
        ("v1", PROMOTED, ""),
        ("v2", REJECTED, "worse"),
    ]
    assert listed[0].report.per_label == first.report.per_label
    assert listed[0].size > 10_000 and len(listed[0].sha256) == 64
    active = await registry.active()
    assert active is not None and active.name == "v1"
    loaded = await registry.load(listed[0])
    for example in EXAMPLES:
        assert loaded.classify_text(example.text) == small_model.classify_text(example.text)


async def test_promote_and_rollback(
    store: SQLConversationStore, small_model: LocalIntentClassifier
) -> None:
    registry = ModelRegistry(store)
    for status in (PROMOTED, PROMOTED, REJECTED):
        await registry.add(small_model, _draft(small_model, status, "worse"), activate=False)

    async def active_name() -> str | None:
        active = await registry.active()
        return active.name if active else None

    await registry.promote("v2")
    assert await active_name() == "v2"
    with pytest.raises(ModelRegistryError, match=r"v3 was rejected .*--force"):
        await registry.promote("v3")
    assert await active_name() == "v2"
    await registry.promote("3", force=True)
    assert await active_name() == "v3"
    await registry.rollback("v1")
    assert await active_name() == "v1"
    with pytest.raises(ModelRegistryError, match="not older than the active v1"):
        await registry.rollback("v2")
    with pytest.raises(ModelRegistryError, match="no model version v9"):
        await registry.promote("v9")
    with pytest.raises(ModelRegistryError, match="not a model version"):
        parse_version("latest")
    assert await active_name() == "v1"


async def _names(registry: ModelRegistry) -> list[tuple[str, str, bool]]:
    """Every version as (name, status, active)."""
    active = await registry.active_number()
    return [(v.name, v.status, v.number == active) for v in await registry.versions()]


async def test_a_version_is_activated_only_if_the_one_it_was_compared_with_is_still_active(
    store: SQLConversationStore, small_model: LocalIntentClassifier
) -> None:
    registry = ModelRegistry(store)
    draft = _draft(small_model, PROMOTED)
    await registry.add(small_model, draft, activate=True)
    await registry.add(small_model, draft, activate=True, compared_with=1)
    # Compared with v1, but v2 became active meanwhile (another `learn train`).
    late = await registry.add(small_model, draft, activate=True, compared_with=1)
    reason = "v2 became active while this version was trained; train again"
    assert (late.name, late.status, late.reason) == ("v3", REJECTED, reason)
    # Compared with v2, but an operator rolled back to v1 meanwhile: the rollback stays.
    await registry.rollback("v1")
    undone = await registry.add(small_model, draft, activate=True, compared_with=2)
    assert (undone.status, undone.reason) == (REJECTED, reason.replace("v2", "v1"))
    assert await _names(registry) == [
        ("v1", PROMOTED, True),
        ("v2", PROMOTED, False),
        ("v3", REJECTED, False),
        ("v4", REJECTED, False),
    ]
    listed = await registry.version(3)
    assert listed is not None and listed.reason == reason


async def test_concurrent_stores_agree_on_one_first_version_and_one_successor(
    store: SQLConversationStore, small_model: LocalIntentClassifier, database: TestDatabase
) -> None:
    other = SQLConversationStore(database.url, connect_args=database.connect_args)
    await other.start()
    try:
        registries = [ModelRegistry(store), ModelRegistry(other)] * 2
        draft = _draft(small_model, PROMOTED, "the shipped model")
        firsts = await asyncio.gather(*(r.add_first(small_model, draft) for r in registries))
        assert [f.name for f in firsts if f is not None] == ["v1"]
        assert await _names(registries[0]) == [("v1", PROMOTED, True)]
        successors = await asyncio.gather(
            *(r.add(small_model, draft, activate=True, compared_with=1) for r in registries)
        )
        assert sorted(s.status for s in successors) == [PROMOTED] + [REJECTED] * 3
        (winner,) = (s for s in successors if s.status == PROMOTED)
        assert await registries[1].active_number() == winner.number
    finally:
        await other.stop()


@asynccontextmanager
async def _behind_the_store(database: TestDatabase) -> AsyncIterator[AsyncConnection]:
    """A transaction on ``database`` of its own, as a restored backup or a bad edit would be."""
    engine = create_async_engine(database.url, connect_args=dict(database.connect_args))
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def _tamper(database: TestDatabase, number: int) -> None:
    """Flip a byte in the middle of version ``number``'s stored artifact."""
    async with _behind_the_store(database) as conn:
        query = text("SELECT artifact FROM model_versions WHERE id = :id")
        row = (await conn.execute(query, {"id": number})).one()
        tampered = bytearray(row.artifact)
        tampered[len(tampered) // 2] ^= 0xFF
        await conn.execute(
            text("UPDATE model_versions SET artifact = :blob WHERE id = :id"),
            {"blob": bytes(tampered), "id": number},
        )


async def test_a_tampered_artifact_refuses_to_load(
    store: SQLConversationStore, small_model: LocalIntentClassifier, database: TestDatabase
) -> None:
    registry = ModelRegistry(store)
    version = await registry.add(small_model, _draft(small_model, PROMOTED), activate=True)
    await _tamper(database, version.number)
    with pytest.raises(ModelArtifactError, match=r"model v1: .*does not match its sha256"):
        await registry.load(version)


async def test_a_damaged_version_is_never_made_active(
    store: SQLConversationStore, small_model: LocalIntentClassifier, database: TestDatabase
) -> None:
    registry = ModelRegistry(store)
    previous = None
    for _ in range(3):
        draft = _draft(small_model, PROMOTED)
        previous = (
            await registry.add(small_model, draft, activate=True, compared_with=previous)
        ).number
    await _tamper(database, 1)
    await _tamper(database, 2)
    with pytest.raises(ModelArtifactError, match=r"model v2: .*sha256"):
        await registry.promote("v2")
    with pytest.raises(ModelArtifactError, match=r"model v1: .*sha256"):
        await registry.rollback("v1")
    active = await registry.active()
    assert active is not None and active.name == "v3"  # still the one that loads


async def test_damaged_metrics_are_a_registry_error_and_the_reloader_keeps_running(
    store: SQLConversationStore,
    small_model: LocalIntentClassifier,
    database: TestDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="core.learning.registry")
    registry = ModelRegistry(store)
    draft = _draft(small_model, PROMOTED)
    await registry.add(small_model, draft, activate=True)
    await registry.add(small_model, draft, activate=True, compared_with=1)
    async with _behind_the_store(database) as conn:
        damage = update(model_versions).where(model_versions.c.id == 2)
        await conn.execute(damage.values(metrics={"count": "many"}))
    damaged = r"model v2: its stored metrics are damaged"
    for read in (registry.versions, registry.active, lambda: registry.get("v2")):
        with pytest.raises(ModelArtifactError, match=damaged):
            await read()

    served: list[str] = []
    swap_fails = True

    def swap(_: LocalIntentClassifier, version: ModelVersion) -> None:
        if swap_fails:
            raise RuntimeError("the classifier could not be replaced")
        served.append(version.name)

    def logged(text: str) -> int:
        return sum(text in r.getMessage() or text in (r.exc_text or "") for r in caplog.records)

    reloader = ModelReloader(registry, swap, interval=0.01, loaded=1)
    task = asyncio.create_task(reloader.run())
    try:
        await eventually(lambda: logged(damaged) == 1, "the damaged version logged")
        await registry.add(small_model, draft, activate=True, compared_with=2)
        await eventually(lambda: logged("could not be replaced") == 1, "the bug logged")
        await asyncio.sleep(0.1)  # ten more checks, each failing the same way
        assert logged("could not be replaced") == 1 and logged(damaged) == 1
        swap_fails = False
        await eventually(lambda: served == ["v3"], "v3 served once the swap works")
        assert reloader.loaded == 3 and not task.done()
    finally:
        task.cancel()


# -- hot reload: running servers on one database follow the active version ---------------------

PROBE = "wo ist mein paket bitte"  # a phrasing only the examples above teach


@pytest.fixture(scope="module")
def german_model() -> LocalIntentClassifier:
    """The shipped examples plus German order-status ones, as ``learn train`` trains them."""
    shipped = load_training_data(CONFIG_DIR / "intents.yaml")
    frozen = load_evaluation_set(CONFIG_DIR / "evaluation.yaml")
    accepted = [Example(text, "order_status") for text in GERMAN_ORDER_STATUS]
    return train_candidate(shipped, accepted, frozen).classifier


async def test_running_servers_follow_promotion_and_rollback(
    database: TestDatabase, model_dir: Path, tmp_path: Path, german_model: LocalIntentClassifier
) -> None:
    servers = [await start_server(database, model_dir, tmp_path / f"server{i}") for i in range(2)]
    try:
        assert [s.model_version for s in servers] == ["shipped", "shipped"]
        assert [await intent_of(s, PROBE) for s in servers] == [None, None]
        # An operator stores the shipped model and the retrained one, then promotes it.
        registry = ModelRegistry(servers[0].store)
        shipped = load_or_train(servers[0].training_data, model_dir / "models")
        await registry.add(shipped, _draft(shipped, PROMOTED), activate=True)
        await registry.add(german_model, _draft(german_model, PROMOTED), activate=False)
        await registry.promote("v2")

        await eventually(lambda: all(s.model_version == "v2" for s in servers), "both on v2")
        assert [await intent_of(s, PROBE) for s in servers] == ["order_status", "order_status"]
        assert [await intent_of(s, "where is my order") for s in servers] == ["order_status"] * 2
        metrics = servers[1].metrics.render().decode()
        assert 'shopbot_model_info{version="v2"} 1.0' in metrics
        assert 'version="shipped"' not in metrics

        # A server started now serves the active version from its first message.
        late = await start_server(database, model_dir, tmp_path / "late")
        servers.append(late)
        assert late.model_version == "v2" and await intent_of(late, PROBE) == "order_status"

        await registry.rollback("v1")
        await eventually(lambda: all(s.model_version == "v1" for s in servers), "all on v1")
        assert [await intent_of(s, PROBE) for s in servers] == [None, None, None]
    finally:
        for server in servers:
            await server.stop()


async def test_servers_keep_serving_when_the_active_version_does_not_load(
    database: TestDatabase,
    model_dir: Path,
    tmp_path: Path,
    german_model: LocalIntentClassifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    servers = [await start_server(database, model_dir, tmp_path / f"server{i}") for i in range(2)]
    try:
        registry = ModelRegistry(servers[0].store)
        shipped = load_or_train(servers[0].training_data, model_dir / "models")
        await registry.add(shipped, _draft(shipped, PROMOTED), activate=True)
        await eventually(lambda: all(s.model_version == "v1" for s in servers), "both on v1")
        # v2 is damaged after it was made active (e.g. a half-restored backup).
        damaged = await registry.add(german_model, _draft(german_model, PROMOTED), activate=False)
        await _tamper(database, damaged.number)
        caplog.set_level("WARNING", logger="core.learning.registry")
        await servers[0].store.activate_model_version(damaged.number, at=utcnow())

        def refused() -> bool:
            return any(
                "v2: the stored artifact does not match" in r.message for r in caplog.records
            )

        await eventually(refused, "the damaged version refused")
        assert [s.model_version for s in servers] == ["v1", "v1"]
        assert [await intent_of(s, "where is my order") for s in servers] == ["order_status"] * 2
        # A server started now serves what the others serve, not the shipped model.
        late = await start_server(database, model_dir, tmp_path / "late")
        servers.append(late)
        assert late.model_version == "v1"
        # The servers keep checking: a good version promoted next is picked up.
        draft = _draft(german_model, PROMOTED)
        await registry.add(german_model, draft, activate=True, compared_with=damaged.number)
        await eventually(lambda: all(s.model_version == "v3" for s in servers), "all on v3")
        assert [await intent_of(s, PROBE) for s in servers] == ["order_status"] * 3
    finally:
        for server in servers:
            await server.stop()
