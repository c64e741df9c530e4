"""``SQLConversationStore``: sessions, the turn log and handoffs on SQLAlchemy 2 async.

Each call is one short transaction, so a turn costs a handful of statements. Sessions are
versioned rows: a save only lands if the row still has the version that was loaded, which is
how two concurrent turns of one conversation are prevented from losing an update.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from core.errors import StorageError
from core.ports import HandoffRecord, TurnRecord
from core.session import Session
from core.storage.batching import GroupCommitter, GroupLoader, TurnWrite
from core.storage.candidates import CandidateStore
from core.storage.checks import require_storable as _require_storable
from core.storage.mailbox import Mailbox
from core.storage.models import ModelVersions
from core.storage.rows import (
    handoff_from_row,
    handoff_values,
    session_from_row,
    session_values,
    turn_from_row,
    turn_values,
)
from core.storage.runner import Runner, open_runner
from core.storage.schema import (
    handoffs,
    turns,
    verification_failures,
)
from core.storage.upgrade import create_tables

__all__ = ["SQLConversationStore"]


T = TypeVar("T")


# What a database call can raise that is the database's fault rather than a bug of ours: driver
# and SQLAlchemy errors, sockets and files (OSError includes timeouts), text the driver cannot
# encode, values read back that do not convert (a hand-edited row), and a URL naming a driver
# that is not installed.
_FAILURES = (SQLAlchemyError, OSError, UnicodeError, ValueError, ImportError)

# Statements are built once: SQLAlchemy caches their compiled form, which keeps each call cheap.
_INSERT_TURN = insert(turns)
_INSERT_HANDOFF = insert(handoffs)


def _storage_error(exc: BaseException, action: str) -> StorageError:
    """The one translation of a database failure into the project's error tree.

    The message names the failure but never the SQL parameters, which hold users' messages.
    """
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    lines = str(cause).strip().splitlines()
    detail = lines[0] if lines else ""
    return StorageError(f"could not {action}: {type(cause).__name__}: {detail}".rstrip(": "))


def _execute(conn: Connection, statement: Any, values: Any) -> None:
    conn.execute(statement, values)


def _fetch_all(conn: Connection, query: Any) -> Sequence[Row[Any]]:
    return conn.execute(query).all()


def _rowcount_of(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount)


def _replies_to(conn: Connection, conversation_id: str, message_id: str) -> list[Row[Any]] | None:
    of_conversation = turns.c.conversation_id == conversation_id
    inbound = conn.execute(
        select(turns.c.id).where(
            of_conversation, turns.c.message_id == message_id, turns.c.direction == "in"
        )
    ).first()
    if inbound is None:
        return None
    following = conn.execute(
        select(turns).where(of_conversation, turns.c.id > inbound.id).order_by(turns.c.id)
    ).all()
    replies = []
    for row in following:
        if row.direction != "out":
            break
        replies.append(row)
    return replies


class SQLConversationStore(Mailbox, ModelVersions, CandidateStore):
    """The ``ConversationStore`` on any SQLAlchemy async URL (SQLite by default, PostgreSQL).

    ``connect_args`` go to the driver unchanged, e.g. asyncpg's
    ``{"server_settings": {"search_path": "tenant_a"}}`` to keep the tables in one schema.
    Every failure surfaces as ``StorageError``; a lost version race as ``ConcurrentUpdate``.
    The channels' durable inbox and outbox come from ``Mailbox`` (``core.storage.mailbox``).
    """

    def __init__(
        self, url: str, *, echo: bool = False, connect_args: Mapping[str, Any] | None = None
    ) -> None:
        self._url = url
        self._echo = echo
        self._connect_args: dict[str, Any] = dict(connect_args or {})
        self._runner: Runner | None = None
        self._committer: GroupCommitter | None = None
        self._loader: GroupLoader | None = None

    async def start(self) -> None:
        """Connect and create the tables that do not exist yet. Idempotent."""
        if self._runner is not None:
            return
        try:
            runner = open_runner(self._url, echo=self._echo, connect_args=self._connect_args)
        except _FAILURES as exc:
            raise _storage_error(exc, "open the conversation database") from exc
        try:
            missing = await runner.run(create_tables)
        except _FAILURES as exc:
            await runner.close()
            raise _storage_error(exc, "create the conversation tables") from exc
        if missing:
            await runner.close()
            raise StorageError(
                "the conversation database was created by an older shopbot and lacks "
                f"{', '.join(missing)}; move it aside (or migrate it) and start again"
            )
        self._runner = runner
        self._committer = GroupCommitter(runner, failure=_storage_error, failures=_FAILURES)
        self._loader = GroupLoader(runner, failure=_storage_error, failures=_FAILURES)

    async def stop(self) -> None:
        """Finish queued writes, close every pooled connection. Idempotent; restartable."""
        runner, self._runner = self._runner, None
        committer, self._committer = self._committer, None
        self._loader = None
        if committer is not None:
            await committer.close()
        if runner is not None:
            await runner.close()

    def _require_runner(self) -> Runner:
        if self._runner is None:
            raise StorageError("the conversation store is not started; call start() first")
        return self._runner

    async def load_session(self, channel: str, user_id: str) -> Session:
        """The stored session of this channel user, or a fresh one (version 0, not stored)."""
        _require_storable("channel", channel)
        _require_storable("user_id", user_id)
        self._require_runner()
        assert self._loader is not None  # set together with the engine
        row = await self._loader.load((channel, user_id))
        if row is None:
            return Session(conversation_id=str(uuid.uuid4()), channel=channel, user_id=user_id)
        try:
            return session_from_row(row)
        except _FAILURES as exc:
            raise _storage_error(exc, "load a session") from exc

    async def save_session(self, session: Session) -> Session:
        """Insert (version 0) or update the row if it still has ``session.version``.

        Returns the session with version + 1; raises ``ConcurrentUpdate`` when another
        writer stored this conversation (or this channel user) in between.
        """
        return await self.commit_turn(session)

    async def commit_turn(
        self,
        session: Session,
        records: Sequence[TurnRecord] = (),
        handoff_records: Sequence[HandoffRecord] = (),
    ) -> Session:
        """Save ``session`` (as ``save_session``) and append its turn's log records, atomically.

        Turns committed concurrently share one transaction (see ``core.storage.batching``); each
        still gets its own verdict, and a turn that lost its version race writes no log rows.
        """
        write = TurnWrite(
            session=session,
            session_values=session_values(session),
            turn_rows=[turn_values(record) for record in records],
            handoff_rows=[handoff_values(record) for record in handoff_records],
        )
        self._require_runner()
        assert self._committer is not None  # set together with the engine
        return await self._committer.submit(write)

    async def log_turn(self, record: TurnRecord) -> None:
        """Append one inbound or outbound message to the turn log."""
        await self._insert(_INSERT_TURN, turn_values(record), "log a turn")

    async def record_handoff(self, record: HandoffRecord) -> None:
        """Record that a conversation was handed to human staff."""
        await self._insert(_INSERT_HANDOFF, handoff_values(record), "record a handoff")

    async def _insert(self, statement: Any, values: dict[str, Any], action: str) -> None:
        runner = self._require_runner()
        try:
            await runner.run(_execute, statement, values)
        except _FAILURES as exc:
            raise _storage_error(exc, action) from exc

    async def record_verification_failure(self, subjects: Sequence[str], at: datetime) -> None:
        """Count a failed verification against each subject (an order number, a hashed email)."""
        for subject in subjects:
            _require_storable("subject", subject)
        rows = [{"subject": subject, "created_at": at} for subject in subjects]
        runner = self._require_runner()
        try:
            await runner.run(_execute, insert(verification_failures), rows)
        except _FAILURES as exc:
            raise _storage_error(exc, "record a failed verification") from exc

    async def count_verification_failures(
        self, subjects: Sequence[str], since: datetime
    ) -> dict[str, int]:
        """Failed verifications per subject since ``since``, in every conversation."""
        for subject in subjects:
            _require_storable("subject", subject)
        column = verification_failures.c.subject
        query = (
            select(column, func.count().label("failures"))
            .where(column.in_(list(subjects)), verification_failures.c.created_at >= since)
            .group_by(column)
        )
        rows = await self._fetch(query, "count failed verifications")
        return {str(row.subject): int(row.failures) for row in rows}

    async def replies_to(self, conversation_id: str, message_id: str) -> list[TurnRecord] | None:
        """The logged replies to inbound ``message_id`` of this conversation, or ``None`` when
        no such message was processed. A turn's rows are written together, so its replies are
        the outbound rows after the inbound one, up to the next inbound row."""
        _require_storable("conversation_id", conversation_id)
        _require_storable("message_id", message_id)
        runner = self._require_runner()
        try:
            rows = await runner.run(_replies_to, conversation_id, message_id)
        except _FAILURES as exc:
            raise _storage_error(exc, "look up a processed message") from exc
        return None if rows is None else [turn_from_row(row) for row in rows]

    async def set_feedback(self, conversation_id: str, reply_id: str, rating: str) -> bool:
        """Store "up"/"down" on reply ``reply_id`` of this conversation; False if no such reply."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        _require_storable("conversation_id", conversation_id)
        _require_storable("reply_id", reply_id)
        statement = (
            update(turns)
            .where(
                turns.c.conversation_id == conversation_id,
                turns.c.message_id == reply_id,
                turns.c.direction == "out",
            )
            .values(feedback=rating)
        )
        runner = self._require_runner()
        try:
            changed = await runner.run(_rowcount_of, statement)
        except _FAILURES as exc:
            raise _storage_error(exc, "store feedback") from exc
        return changed > 0

    async def turns(self, conversation_id: str, *, last: int | None = None) -> list[TurnRecord]:
        """The logged messages of one conversation, oldest first (only the ``last`` ones when
        given)."""
        _require_storable("conversation_id", conversation_id)
        query = select(turns).where(turns.c.conversation_id == conversation_id)
        if last is None:
            query = query.order_by(turns.c.id)
            return [turn_from_row(row) for row in await self._fetch(query, "read the turn log")]
        query = query.order_by(turns.c.id.desc()).limit(last)
        rows = await self._fetch(query, "read the turn log")
        return [turn_from_row(row) for row in reversed(rows)]

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]:
        """Recorded handoffs, oldest first; all of them, or one conversation's."""
        query = select(handoffs).order_by(handoffs.c.id)
        if conversation_id is not None:
            _require_storable("conversation_id", conversation_id)
            query = query.where(handoffs.c.conversation_id == conversation_id)
        return [handoff_from_row(row) for row in await self._fetch(query, "read the handoffs")]

    async def count_turns(self) -> int:
        """How many messages the turn log holds, over all conversations."""
        rows = await self._fetch(select(func.count()).select_from(turns), "count the turns")
        return int(rows[0][0])

    async def _run(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        runner = self._require_runner()
        try:
            return await runner.run(fn, *args)
        except _FAILURES as exc:
            raise _storage_error(exc, action) from exc

    async def _fetch(self, query: Any, action: str) -> Sequence[Row[Any]]:
        runner = self._require_runner()
        try:
            return await runner.run(_fetch_all, query)
        except _FAILURES as exc:
            raise _storage_error(exc, action) from exc
