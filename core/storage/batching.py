"""Group commit and group load: the turns that reach the database while it is busy share one
transaction (writes) or one query (session reads).

A turn's writes — its session (with the optimistic version check) and its log rows — are one
atomic unit. Writing each unit in its own transaction costs a handful of statements and driver
round trips per message, which dominates the cost of a turn. Instead, units submitted
concurrently are queued and a single writer task stores everything queued in ONE transaction
with one statement per kind of row. At low load a batch holds one turn and nothing waits; under
load the per-turn cost shrinks with the batch.

Every unit still gets its own verdict. Each save stamps the row with a fresh ``write_id``; after
the batch's insert and update, the rows whose ``write_id`` is not ours lost a race (another turn
or worker stored the conversation first) and get ``ConcurrentUpdate``, and their log rows are not
written.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Row

from core.errors import ConcurrentUpdate, StorageError
from core.session import Session
from core.storage.runner import Runner, dialect_insert
from core.storage.schema import conversations, handoffs, turns
from core.types import utcnow

__all__ = ["GroupCommitter", "GroupLoader", "TurnWrite"]

# One transaction never carries more than this many turns, to bound statement size.
MAX_BATCH = 200

_UPDATE_SESSION = update(conversations).where(
    conversations.c.conversation_id == bindparam("b_conversation_id"),
    conversations.c.version == bindparam("b_version"),
)


@dataclass(slots=True)
class TurnWrite:
    """One turn's writes, with values already checked and converted to column values."""

    session: Session
    session_values: dict[str, Any]
    turn_rows: list[dict[str, Any]]
    handoff_rows: list[dict[str, Any]]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


Req = TypeVar("Req")
Res = TypeVar("Res")


class _Batcher(Generic[Req, Res]):
    """Queues requests while a batch is in flight; one task serves everything queued, in batches.

    ``failure`` turns a database exception into the project's ``StorageError`` (the store's one
    translation function); ``failures`` are the exception types it translates. ``_serve`` gets
    a batch and returns, for each request in order, its result or the exception to raise.
    """

    _action = "use the conversation database"

    def __init__(
        self,
        runner: Runner,
        *,
        failure: Callable[[BaseException, str], StorageError],
        failures: tuple[type[BaseException], ...],
    ) -> None:
        self._runner = runner
        self._failure = failure
        self._failures = failures
        self._queue: list[tuple[Req, asyncio.Future[Res]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _submit(self, request: Req) -> Res:
        done: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._queue.append((request, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"shopbot-store-{self._action}")
        return await asyncio.shield(done)

    async def close(self) -> None:
        """Wait for the requests already submitted."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _serve(self, requests: list[Req]) -> list[Res | BaseException]:
        raise NotImplementedError

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await self._serve([request for request, _ in batch])
            except BaseException as exc:
                # Every waiter must hear about it, or its turn would hang forever.
                for _, done in batch:
                    if not done.done():
                        done.set_exception(self._translate(exc))
                if not isinstance(exc, Exception):
                    raise  # cancellation at shutdown
                continue
            for (_, done), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)

    def _translate(self, exc: BaseException) -> StorageError:
        if isinstance(exc, self._failures):
            return self._failure(exc, self._action)
        error = StorageError(f"could not {self._action}: {type(exc).__name__}")
        error.__cause__ = exc
        return error


class GroupCommitter(_Batcher[TurnWrite, Session]):
    """Stores turns: everything submitted while a write is in flight goes in one transaction."""

    _action = "store a turn"

    def __init__(
        self,
        runner: Runner,
        *,
        failure: Callable[[BaseException, str], StorageError],
        failures: tuple[type[BaseException], ...],
    ) -> None:
        super().__init__(runner, failure=failure, failures=failures)
        self._insert_new = _insert_if_absent(runner.dialect)

    async def submit(self, write: TurnWrite) -> Session:
        """Store ``write`` atomically; returns its session at version + 1.

        Raises ``ConcurrentUpdate`` when the row changed since it was loaded, ``StorageError``
        when the database failed (then nothing of the batch was written).
        """
        return await self._submit(write)

    async def _serve(self, requests: list[TurnWrite]) -> list[Session | BaseException]:
        stored = await self._runner.run(_write, requests, self._insert_new, utcnow())
        return [_verdict(write, write.token in stored) for write in requests]


SessionKey = tuple[str, str]


class GroupLoader(_Batcher[SessionKey, "Row[Any] | None"]):
    """Reads the sessions asked for while a read is in flight with ONE query.

    The read side of group commit: under load, the first messages of many conversations arrive
    together, and one ``SELECT ... WHERE (channel, user_id) IN (...)`` serves them all.
    """

    _action = "load a session"

    async def load(self, key: SessionKey) -> Row[Any] | None:
        """The stored row of the (channel, user_id) ``key``, or ``None``."""
        return await self._submit(key)

    async def _serve(self, requests: list[SessionKey]) -> list[Row[Any] | BaseException | None]:
        rows = await self._runner.run(_read_sessions, set(requests))
        return [rows.get(key) for key in requests]


def _write(conn: Connection, batch: Sequence[TurnWrite], insert_new: Any, now: Any) -> set[str]:
    """Store a batch in the caller's transaction; returns the tokens of the writes that won."""
    changed = 0
    new = [w for w in batch if w.session.version == 0]
    if new:
        changed += _rowcount(conn.execute(insert_new, [_insert_values(w, now) for w in new]))
    old = [w for w in batch if w.session.version > 0]
    if old:
        changed += _rowcount(conn.execute(_UPDATE_SESSION, [_update_values(w, now) for w in old]))
    if changed == len(batch):
        stored = {w.token for w in batch}  # every row landed: no need to ask
    else:  # someone lost a race (or the driver does not count): ask who won
        stored = _stored_tokens(conn, batch)
    won = [w for w in batch if w.token in stored]
    turn_rows = [row for w in won for row in w.turn_rows]
    if turn_rows:
        conn.execute(insert(turns), turn_rows)
    handoff_rows = [row for w in won for row in w.handoff_rows]
    if handoff_rows:
        conn.execute(insert(handoffs), handoff_rows)
    return stored


def _rowcount(result: Any) -> int:
    """Rows a statement changed; -1 (never equal to a batch size) when the driver cannot say."""
    count = result.rowcount
    return count if isinstance(count, int) and count >= 0 else -(10**9)


def _verdict(write: TurnWrite, stored: bool) -> Session | BaseException:
    session = write.session
    if stored:
        return replace(session, version=session.version + 1)
    return ConcurrentUpdate(
        f"could not save conversation {session.conversation_id}: another turn stored it first "
        f"(it is no longer at version {session.version})"
    )


def _stored_tokens(conn: Connection, batch: Sequence[TurnWrite]) -> set[str]:
    ids = sorted({w.session.conversation_id for w in batch})
    query = select(conversations.c.write_id).where(conversations.c.conversation_id.in_(ids))
    return {row.write_id for row in conn.execute(query)}


def _insert_values(write: TurnWrite, now: Any) -> dict[str, Any]:
    session = write.session
    return {
        **write.session_values,
        "conversation_id": session.conversation_id,
        "channel": session.channel,
        "user_id": session.user_id,
        "version": 1,
        "write_id": write.token,
        "created_at": now,
        "updated_at": now,
    }


def _update_values(write: TurnWrite, now: Any) -> dict[str, Any]:
    session = write.session
    return {
        **write.session_values,
        "version": session.version + 1,
        "write_id": write.token,
        "updated_at": now,
        "b_conversation_id": session.conversation_id,
        "b_version": session.version,
    }


def _insert_if_absent(dialect: str) -> Any:
    """INSERT that skips a row whose conversation or channel user exists (the race's loser)."""
    return dialect_insert(conversations, dialect).on_conflict_do_nothing()


def _read_sessions(conn: Connection, keys: set[SessionKey]) -> dict[SessionKey, Row[Any]]:
    if len(keys) == 1:  # the usual case at low load: the simplest, cached statement
        ((channel, user_id),) = keys
        query = select(conversations).where(
            conversations.c.channel == channel, conversations.c.user_id == user_id
        )
    else:
        columns = tuple_(conversations.c.channel, conversations.c.user_id)
        query = select(conversations).where(columns.in_(sorted(keys)))
    return {(row.channel, row.user_id): row for row in conn.execute(query)}
