"""Shared fixtures: a throw-away conversation database on SQLite, and on PostgreSQL when configured.

Tests that need a database ask for ``database`` (URL plus driver ``connect_args``) or for
``database_url`` / ``database_connect_args``; each is parametrised over both backends, e.g.
``SQLConversationStore(database.url, connect_args=database.connect_args)``. PostgreSQL is shared
between runs, so every test gets its own fresh schema (via the connection's search_path), dropped
afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from config.settings import Settings, load_settings
from shopbot.app import Runtime, build_runtime

POSTGRES_URL_VARIABLE = "SHOPBOT_TEST_POSTGRES_URL"
_POSTGRES_URL = os.environ.get(POSTGRES_URL_VARIABLE, "")


@dataclass(frozen=True, slots=True)
class TestDatabase:
    """An empty database for one test: pass ``url`` and ``connect_args`` to the store."""

    __test__ = False  # not a test class, despite the name

    backend: str
    url: str
    connect_args: Mapping[str, Any] = field(default_factory=dict)


async def _postgres_schema(url: str) -> AsyncIterator[TestDatabase]:
    schema = f"shopbot_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        await admin.dispose()
        pytest.fail(f"{POSTGRES_URL_VARIABLE}={url} is set but unusable: {exc}", pytrace=False)
    try:
        yield TestDatabase("postgresql", url, {"server_settings": {"search_path": schema}})
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not _POSTGRES_URL, reason=f"{POSTGRES_URL_VARIABLE} not set"),
        ),
    ]
)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh, empty database on each backend (PostgreSQL only when configured)."""
    if request.param == "sqlite":
        yield TestDatabase("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'shopbot.sqlite3'}")
        return
    async for db in _postgres_schema(_POSTGRES_URL):
        yield db


@pytest.fixture
def database_url(database: TestDatabase) -> str:
    """The URL of ``database``; pair it with ``database_connect_args``."""
    return database.url


@pytest.fixture
def database_connect_args(database: TestDatabase) -> Mapping[str, Any]:
    """The driver ``connect_args`` that point a connection at the test's own schema."""
    return database.connect_args


# -- the whole runtime, as `shopbot serve` builds it -------------------------------------------


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory holding the trained intent model, shared by every test that builds a
    runtime (training takes seconds; the model is cached there by a hash of the training data).
    """
    return tmp_path_factory.mktemp("shared-model")


def runtime_settings(
    model_dir: Path, tmp_path: Path, env: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Default settings with this test's own databases in ``tmp_path`` and the shared model."""
    return load_settings(
        env=env or {},
        data_dir=model_dir,
        storage={"url": f"sqlite+aiosqlite:///{tmp_path / 'conversations.sqlite3'}"},
        crm={"demo_database": tmp_path / "shop.sqlite3"},
        **overrides,
    )


@pytest.fixture
async def runtime(model_dir: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A started runtime: the real model, demo shop and SQLite store, as `serve` wires them."""
    started = build_runtime(runtime_settings(model_dir, tmp_path))
    await started.start()
    yield started
    await started.stop()


ServeShopbot = Callable[..., Awaitable[tuple[str, Runtime]]]


@pytest.fixture
async def serve_shopbot(model_dir: Path, tmp_path: Path) -> AsyncIterator[ServeShopbot]:
    """Starts real shopbot servers (runtime + ``api_app()``) on 127.0.0.1, each with its own
    databases: ``url, runtime = await serve_shopbot(env, **setting_overrides)``. All are stopped
    after the test, server before runtime.
    """
    started: list[tuple[web.AppRunner, Runtime]] = []

    async def serve(env: Mapping[str, str] | None = None, **overrides: Any) -> tuple[str, Runtime]:
        data = tmp_path / f"server{len(started)}"
        data.mkdir()
        runtime = build_runtime(runtime_settings(model_dir, data, env, **overrides))
        await runtime.start()
        runner = web.AppRunner(runtime.api_app(), shutdown_timeout=1.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except BaseException:
            await runtime.stop()
            raise
        started.append((runner, runtime))
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}", runtime

    yield serve
    for runner, runtime in reversed(started):
        await runner.cleanup()
        await runtime.stop()
