"""The learning loop's tables: candidate examples and mining runs (see ``core.learning``).

A mixin of ``SQLConversationStore``, written like ``core.storage.mailbox``: each operation is a
function of a ``Connection`` that the store's runner runs in one transaction. It also reads the
turn log for mining, a batch of conversations at a time, so a large log is never loaded whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update
from sqlalchemy.engine import Row

from core.learning.mining import MinedCandidate
from core.learning.mining_run import MiningMark
from core.learning.signals import LoggedTurn
from core.learning.types import Candidate, Example, Provenance
from core.storage.rows import turn_from_row
from core.storage.runner import dialect_insert
from core.storage.schema import learning_candidates, learning_runs, turns
from core.types import utcnow

__all__ = ["CANDIDATE_STATUSES", "CandidateStore"]

T = TypeVar("T")

CANDIDATE_STATUSES = ("pending", "accepted", "rejected")


class CandidateStore:
    """Candidate storage and turn-log reading for mining (the store provides ``_run``)."""

    async def _run(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def add_candidates(
        self, mined: Sequence[MinedCandidate], *, now: datetime | None = None
    ) -> list[Candidate]:
        """Store new candidates as ``pending``; a text stored before (same normalised text,
        whatever its status) is skipped. Returns the candidates stored by this call."""
        rows = [_candidate_values(candidate, now or utcnow()) for candidate in mined]
        if not rows:
            return []
        stored = await self._run("store candidate examples", _insert_new, rows)
        return [_candidate(row) for row in stored]

    async def candidates(self, status: str | None = None) -> list[Candidate]:
        """Every candidate (or those with ``status``), oldest first."""
        query = select(learning_candidates).order_by(learning_candidates.c.id)
        if status is not None:
            query = query.where(learning_candidates.c.status == _status(status))
        return [_candidate(row) for row in await self._run("read candidates", _all, query)]

    async def set_candidate(
        self,
        candidate_id: int,
        status: str,
        intent: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Candidate | None:
        """Accept, reject (``status``) or relabel (``intent``) a candidate, noting when it was
        reviewed; the updated candidate, or ``None`` when there is no such candidate."""
        values: dict[str, Any] = {"status": _status(status), "reviewed_at": now or utcnow()}
        if intent is not None:
            values["intent"] = intent
        statement = (
            update(learning_candidates)
            .where(learning_candidates.c.id == candidate_id)
            .values(**values)
            .returning(*learning_candidates.c)
        )
        row = await self._run("review a candidate", _first, statement)
        return None if row is None else _candidate(row)

    async def accept_candidates(
        self,
        min_score: float,
        *,
        among: Collection[int] | None = None,
        now: datetime | None = None,
    ) -> list[Candidate]:
        """Accept every pending candidate scoring at least ``min_score`` (the auto-accept rule),
        or only those of them whose id is ``among`` (e.g. one mining run's); returns the
        candidates accepted."""
        conditions = [
            learning_candidates.c.status == "pending",
            learning_candidates.c.score >= min_score,
        ]
        if among is not None:
            conditions.append(learning_candidates.c.id.in_(list(among)))
        statement = (
            update(learning_candidates)
            .where(*conditions)
            .values(status="accepted", reviewed_at=now or utcnow())
            .returning(*learning_candidates.c)
        )
        rows = await self._run("accept candidates", _all, statement)
        return sorted((_candidate(row) for row in rows), key=lambda c: c.id)

    async def accepted_examples(self) -> list[Example]:
        """The accepted candidates as training examples, oldest first."""
        return [Example(text=c.text, intent=c.intent) for c in await self.candidates("accepted")]

    async def latest_turn_id(self) -> int:
        """The id of the newest turn log row (0 when the log is empty)."""
        query = select(func.coalesce(func.max(turns.c.id), 0))
        return int(await self._run("read the turn log", _scalar, query))

    async def last_mining(self) -> MiningMark:
        """Where the last mining run left the turn log (nothing read: never mined)."""
        query = select(learning_runs).order_by(learning_runs.c.id.desc()).limit(1)
        row = await self._run("read the mining runs", _first, query)
        if row is None:
            return MiningMark()
        # A run of an older shopbot noted no start: its end is the closest known.
        return MiningMark(row.through_turn_id, row.started_at or row.finished_at, row.held_from)

    async def record_mining(
        self, mark: MiningMark, *, conversations: int, found: int, stored: int
    ) -> None:
        """Note a mining run and where it left the log."""
        values = {
            "through_turn_id": mark.through_turn_id,
            "started_at": mark.started_at,
            "held_from": mark.held_from,
            "conversations": conversations,
            "found": found,
            "stored": stored,
            "finished_at": utcnow(),
        }
        await self._run("record a mining run", _insert_row, values)

    async def turn_by_id(self, turn_id: int) -> LoggedTurn | None:
        """One turn log row, or ``None`` when there is none with that id."""
        query = select(turns).where(turns.c.id == turn_id)
        row = await self._run("read the turn log", _first, query)
        return None if row is None else _logged_turn(row)

    async def conversation_batches(
        self,
        *,
        after: MiningMark | None = None,
        through_turn_id: int | None = None,
        since: datetime | None = None,
        batch_size: int = 100,
    ) -> AsyncIterator[list[list[LoggedTurn]]]:
        """The conversations with a message after ``after`` (up to ``through_turn_id``) or to
        be read again after it (see ``MiningMark``), and with one at or after ``since``;
        ``batch_size`` at a time, each as all its log rows oldest first — so a request begun
        before ``since`` is read whole."""
        wanted = _wanted(after or MiningMark(), through_turn_id)
        last = ""
        while True:
            ids = await self._run(
                "read the turn log", _conversation_ids, last, wanted, since, batch_size
            )
            if not ids:
                return
            rows = await self._run("read the turn log", _turns_of, ids)
            grouped: dict[str, list[LoggedTurn]] = {cid: [] for cid in ids}
            for row in rows:
                grouped[row.conversation_id].append(_logged_turn(row))
            yield list(grouped.values())
            last = ids[-1]


def _wanted(after: MiningMark, through_turn_id: int | None) -> ColumnElement[bool]:
    """Which turn log rows make their conversation one to read."""
    fresh = turns.c.id > after.through_turn_id
    if through_turn_id is not None:
        fresh = and_(fresh, turns.c.id <= through_turn_id)
    again = [fresh]
    if after.held_from is not None:
        again.append(and_(turns.c.direction == "in", turns.c.created_at >= after.held_from))
    if after.started_at is not None:
        again.append(turns.c.updated_at >= after.started_at)
    return or_(*again)


def _status(status: str) -> str:
    if status not in CANDIDATE_STATUSES:
        raise ValueError(f"a candidate's status is one of {CANDIDATE_STATUSES}, not {status!r}")
    return status


def _key(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _candidate_values(candidate: MinedCandidate, now: datetime) -> dict[str, Any]:
    provenance = candidate.provenance
    return {
        "key": _key(candidate.key),
        "text": candidate.text,
        "intent": candidate.intent,
        "score": candidate.score,
        "status": "pending",
        "conversation_id": provenance.conversation_id,
        "failed_turn_ids": list(provenance.failed_turn_ids),
        "success_turn_id": provenance.success_turn_id,
        "failed_at": provenance.failed_at,
        "succeeded_at": provenance.succeeded_at,
        "created_at": now,
    }


def _candidate(row: Row[Any]) -> Candidate:
    provenance = Provenance(
        conversation_id=row.conversation_id,
        failed_turn_ids=tuple(int(i) for i in row.failed_turn_ids or ()),
        success_turn_id=row.success_turn_id,
        failed_at=row.failed_at,
        succeeded_at=row.succeeded_at,
    )
    return Candidate(
        id=row.id,
        text=row.text,
        intent=row.intent,
        score=row.score,
        status=row.status,
        provenance=provenance,
        created_at=row.created_at,
        reviewed_at=row.reviewed_at,
    )


def _logged_turn(row: Row[Any]) -> LoggedTurn:
    return LoggedTurn(id=row.id, record=turn_from_row(row))


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
    statement = (
        dialect_insert(learning_candidates, conn.dialect.name)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(*learning_candidates.c)
    )
    stored = []
    for values in rows:  # one by one: RETURNING of a multi-row insert skips nothing reliably
        row = conn.execute(statement, values).first()
        if row is not None:
            stored.append(row)
    return stored


def _insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(learning_runs.insert(), values)


def _all(conn: Connection, statement: Any) -> Sequence[Row[Any]]:
    return conn.execute(statement).all()


def _first(conn: Connection, statement: Any) -> Row[Any] | None:
    return conn.execute(statement).first()


def _scalar(conn: Connection, query: Any) -> Any:
    return conn.execute(query).scalar_one()


def _conversation_ids(
    conn: Connection,
    after: str,
    wanted: ColumnElement[bool],
    since: datetime | None,
    limit: int,
) -> list[str]:
    conditions = [turns.c.conversation_id > after, wanted]
    if since is not None:
        conditions.append(turns.c.created_at >= since)
    query = (
        select(turns.c.conversation_id)
        .where(*conditions)
        .group_by(turns.c.conversation_id)
        .order_by(turns.c.conversation_id)
        .limit(limit)
    )
    return [str(row[0]) for row in conn.execute(query)]


def _turns_of(conn: Connection, conversation_ids: list[str]) -> Sequence[Row[Any]]:
    query = select(turns).where(turns.c.conversation_id.in_(conversation_ids)).order_by(turns.c.id)
    return conn.execute(query).all()
