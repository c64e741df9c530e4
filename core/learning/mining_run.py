"""The incremental mining run: which conversations of the turn log :func:`mine` reads, and
where it leaves the log for the next run (:class:`MiningMark`). What is mined from each
conversation is :class:`~core.learning.mining.Miner`'s business."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.learning.mining import MinedCandidate, Miner
from core.learning.signals import LoggedTurn
from core.learning.types import Candidate
from core.types import utcnow

__all__ = ["MiningLog", "MiningMark", "MiningReport", "mine"]


@dataclass(frozen=True, slots=True)
class MiningMark:
    """Where a mining run left the turn log: read up to ``through_turn_id``; to be read again,
    the conversations with a message at or after ``held_from`` (still going on, so held back)
    and those with a row changed at or after ``started_at`` (a rating given later)."""

    through_turn_id: int = 0
    started_at: datetime | None = None
    held_from: datetime | None = None


class MiningLog(Protocol):
    """What :func:`mine` needs of the store (``SQLConversationStore`` has it)."""

    async def latest_turn_id(self) -> int: ...

    async def last_mining(self) -> MiningMark: ...

    def conversation_batches(
        self,
        *,
        after: MiningMark | None = None,
        through_turn_id: int | None = None,
        since: datetime | None = None,
        batch_size: int = 100,
    ) -> AsyncIterator[list[list[LoggedTurn]]]: ...

    async def add_candidates(
        self, mined: Sequence[MinedCandidate], *, now: datetime | None = None
    ) -> list[Candidate]: ...

    async def record_mining(
        self, mark: MiningMark, *, conversations: int, found: int, stored: int
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class MiningReport:
    """What one :func:`mine` run did."""

    conversations: int
    found: int
    dropped: Mapping[str, int]
    stored: tuple[Candidate, ...]
    held_back: int = 0
    """Conversations left for a later run: the customer wrote within ``window_minutes``."""


async def mine(
    log: MiningLog,
    miner: Miner,
    *,
    since: datetime | None = None,
    batch_size: int = 100,
    now: datetime | None = None,
) -> MiningReport:
    """Mine the conversations the last run did not read or must read again (see
    :class:`MiningMark`; or, with ``since``, every conversation with a message at or after it)
    and store the new candidates as pending. A conversation with a customer message less than
    ``window_minutes`` old may still be going on (that message may yet be rephrased): it is
    held back for a later run.

    Incremental and idempotent: each run notes how far it read the log; a conversation read
    again yields the same texts, which the store skips as duplicates — so a second run stores
    nothing new.
    """
    started = now or utcnow()
    held_from = started - timedelta(minutes=miner.options.window_minutes)
    mark = MiningMark(await log.latest_turn_id(), started, held_from)
    conversations, found, held_back = 0, 0, 0
    dropped: Counter[str] = Counter()
    stored: list[Candidate] = []
    batches = log.conversation_batches(
        after=None if since is not None else await log.last_mining(),
        through_turn_id=mark.through_turn_id,
        since=since,
        batch_size=batch_size,
    )
    async for batch in batches:
        settled = [turns for turns in batch if not _going_on(turns, held_from)]
        held_back += len(batch) - len(settled)
        result = miner.mine(settled)
        conversations += result.conversations
        found += result.found
        dropped.update(result.dropped)
        new = await log.add_candidates(result.candidates)
        dropped["duplicate"] += len(result.candidates) - len(new)
        stored += new
    await log.record_mining(mark, conversations=conversations, found=found, stored=len(stored))
    return MiningReport(
        conversations, found, {k: v for k, v in dropped.items() if v}, tuple(stored), held_back
    )


def _going_on(turns: Sequence[LoggedTurn], held_from: datetime) -> bool:
    """Whether the customer wrote at or after ``held_from`` (and may yet rephrase it)."""
    return any(t.record.direction == "in" and t.record.created_at >= held_from for t in turns)
