"""How the store's operations reach the database: one transaction per call, either way.

Every store operation is written once, as a function of a SQLAlchemy ``Connection`` that runs
inside a transaction. A runner decides how that function is executed:

* :class:`AsyncEngineRunner` — any SQLAlchemy async engine (PostgreSQL with asyncpg): the
  function runs through ``AsyncConnection.run_sync``, SQLAlchemy's bridge for exactly this.
* :class:`ThreadRunner` — SQLite: the function runs on one dedicated thread with the standard
  ``sqlite3`` driver. This is what aiosqlite does, but per operation instead of per driver call:
  measured here, a primary-key read through the async engine over aiosqlite costs ~250-380 µs
  of CPU (several trips to aiosqlite's thread per statement) against ~7 µs for the read itself.
  One thread also means the process never contends with itself for SQLite's write lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import URL, Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.errors import StorageError

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "AsyncEngineRunner",
    "Runner",
    "ThreadRunner",
    "dialect_insert",
    "open_runner",
]

T = TypeVar("T")

# How long a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 5000


class Runner(Protocol):
    """Runs ``fn(connection, *args)`` in one transaction (committed unless ``fn`` raises)."""

    dialect: str

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def close(self) -> None: ...


class AsyncEngineRunner:
    """Operations on an async engine, through ``AsyncConnection.run_sync``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect = engine.dialect.name

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def close(self) -> None:
        await self._engine.dispose()


class ThreadRunner:
    """Operations on a synchronous engine, each as a whole on one dedicated thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.dialect = engine.dialect.name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopbot-sqlite")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, fn, args)

    def _transaction(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._engine.begin() as conn:
            return fn(conn, *args)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)


def open_runner(url: str, *, echo: bool, connect_args: Mapping[str, Any]) -> Runner:
    """The runner for ``url``: a dedicated thread for SQLite, the async engine otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return AsyncEngineRunner(
            create_async_engine(parsed, echo=echo, connect_args=dict(connect_args))
        )
    _prepare_sqlite_file(parsed)
    sync_engine = create_engine(
        parsed.set(drivername="sqlite"),
        echo=echo,
        # One thread uses the one connection; it is created on that thread, but SQLAlchemy may
        # close it from another at shutdown.
        connect_args={**connect_args, "check_same_thread": False},
        poolclass=StaticPool,
    )
    event.listen(sync_engine, "connect", _configure_sqlite_connection)
    return ThreadRunner(sync_engine)


def _prepare_sqlite_file(url: URL) -> None:
    """Create the directory of a SQLite database file (the data dir may not exist yet)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the turn log be read while a turn writes; NORMAL sync is durable across
    # application crashes (not power loss) and makes each commit far cheaper. The busy timeout
    # covers other processes (a second worker) writing at the same moment.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def dialect_insert(table: Table, dialect: str) -> Any:
    """The dialect's own INSERT for ``table`` (it offers ``on_conflict_do_nothing``)."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise StorageError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")
