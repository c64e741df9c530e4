"""The durable inbox and outbox of the conversation database (see ``core.delivery``).

Each operation is a function of a ``Connection`` run in one transaction by the store's runner,
like the rest of the store. Personal data: an inbox row keeps the message text and verified
identity only until the message is processed (``finish_inbox`` clears them; the turn log keeps
the text, redacted when the settings ask for it), and a sent outbox row has its text cleared.
Failed rows keep their text so that an operator can see and requeue them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.engine import Row

from core.delivery import InboxItem, OutboundMessage, OutboxItem
from core.errors import StorageError
from core.storage.checks import require_storable
from core.storage.runner import dialect_insert
from core.storage.schema import inbox, outbox
from core.types import Identity, InboundMessage, utcnow

__all__ = ["Mailbox"]

T = TypeVar("T")

_MAX_ERROR_CHARS = 500


class Mailbox:
    """The inbox and outbox methods of ``SQLConversationStore`` (it provides ``_run``)."""

    async def _run(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def accept(
        self,
        message: InboundMessage,
        *,
        recipient: str,
        thread: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Store an inbound message to answer at ``recipient`` (in ``thread``); ``False`` when a
        message with the same channel and platform id (``message.message_id``) is there already.
        """
        if not message.message_id:
            raise ValueError("an inbox message needs its platform id as message_id")
        values = _inbox_values(message, recipient, thread, now or utcnow())
        return await self._run("accept an inbound message", _accept, values)

    async def claim_inbox(self, now: datetime, limit: int, *, lease: timedelta) -> list[InboxItem]:
        """Claim unprocessed messages for ``lease``, oldest first: the first pending message of
        each conversation, unless another worker holds it. So a conversation's messages are
        processed one after another even by several workers, and a claim left by a crashed
        worker lapses after ``lease``."""
        return await self._run("claim inbox messages", _claim_inbox, now, limit, now + lease)

    async def release_inbox(self, item_ids: Sequence[int]) -> None:
        """Give claimed messages back (a worker stopping before it finished them)."""
        if item_ids:
            statement = (
                update(inbox)
                .where(inbox.c.id.in_(item_ids), inbox.c.status == "pending")
                .values(claimed_until=None)
            )
            await self._run("update the inbox", _execute, statement)

    async def inbox_items(self, status: str | None = None) -> list[InboxItem]:
        """Every inbox message (or those with ``status``), oldest first."""
        query = select(inbox).order_by(inbox.c.id)
        if status is not None:
            query = query.where(inbox.c.status == status)
        return [_inbox_item(row) for row in await self._run("read the inbox", _fetch, query)]

    async def finish_inbox(
        self, item_id: int, replies: Sequence[OutboundMessage], *, now: datetime
    ) -> bool:
        """Mark a pending message done (clearing its text) and queue ``replies`` to send now,
        in ONE transaction; ``False``, queueing nothing, when it was not pending any more."""
        rows = [_outbox_values(reply, now) for reply in replies]
        return await self._run("finish an inbound message", _finish, item_id, rows, now)

    async def retry_inbox(self, item_id: int, error: str) -> None:
        """Count a failed attempt at processing; the message stays pending."""
        statement = (
            update(inbox)
            .where(inbox.c.id == item_id)
            .values(attempts=inbox.c.attempts + 1, last_error=_error(error), claimed_until=None)
        )
        await self._run("update the inbox", _execute, statement)

    async def fail_inbox(
        self,
        item_id: int,
        error: str,
        *,
        now: datetime,
        replies: Sequence[OutboundMessage] = (),
    ) -> None:
        """Give up on processing a message (its text is kept for an operator to look at), and
        queue ``replies`` — an apology — in the same transaction, if it was still pending."""
        rows = [_outbox_values(reply, now) for reply in replies]
        await self._run("give up an inbound message", _fail, item_id, _error(error), rows, now)

    async def claim_outbox(
        self, now: datetime, limit: int, *, lease: timedelta
    ) -> list[OutboxItem]:
        """Claim the pending messages due by ``now`` for ``lease``, oldest first: only the
        oldest pending message of each recipient, so that a recipient's messages go out in
        order even when one waits; a message another worker claimed is not due."""
        return await self._run("claim outbox messages", _claim_outbox, now, limit, now + lease)

    async def release_outbox(self, item_ids: Sequence[int], *, now: datetime) -> None:
        """Make claimed messages due again (a worker stopping before it sent them)."""
        if item_ids:
            statement = (
                update(outbox)
                .where(outbox.c.id.in_(item_ids), outbox.c.status == "pending")
                .values(next_attempt_at=now)
            )
            await self._run("update the outbox", _execute, statement)

    async def next_outbox_due(self) -> datetime | None:
        """When the earliest message ``claim_outbox`` could return is due, or ``None``."""
        query = (
            select(outbox.c.next_attempt_at)
            .where(outbox.c.status == "pending", _first_pending())
            .order_by(outbox.c.next_attempt_at)
            .limit(1)
        )
        rows = await self._run("read the outbox", _fetch, query)
        return rows[0].next_attempt_at if rows else None

    async def outbox_items(self, status: str | None = None) -> list[OutboxItem]:
        """Every outbox message (or those with ``status``), oldest first."""
        query = select(outbox).order_by(outbox.c.id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        return [_outbox_item(row) for row in await self._run("read the outbox", _fetch, query)]

    async def mark_sent(self, item_id: int, *, now: datetime) -> None:
        """Record a message as delivered to the platform (its text is cleared)."""
        values = {"status": "sent", "attempts": outbox.c.attempts + 1, "sent_at": now, "text": ""}
        await self._run("update the outbox", _execute, _outbox_update(item_id, values))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Count a failed send and try again at ``at``."""
        values = {
            "attempts": outbox.c.attempts + 1,
            "next_attempt_at": at,
            "last_error": _error(error),
        }
        await self._run("update the outbox", _execute, _outbox_update(item_id, values))

    async def mark_failed(self, item_id: int, error: str, *, now: datetime) -> None:
        """Give up on a message (the caller logs and counts it)."""
        values = {
            "status": "failed",
            "attempts": outbox.c.attempts + 1,
            "last_error": _error(error),
            "sent_at": None,
            "next_attempt_at": now,
        }
        await self._run("update the outbox", _execute, _outbox_update(item_id, values))


def _error(error: str) -> str:
    text = error[:_MAX_ERROR_CHARS]
    try:
        require_storable("error", text)
    except StorageError:
        return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text


def _claim_inbox(conn: Connection, now: datetime, limit: int, until: datetime) -> list[InboxItem]:
    earlier = inbox.alias("earlier")
    first_of_conversation = ~(
        select(earlier.c.id)
        .where(
            earlier.c.status == "pending",
            earlier.c.channel == inbox.c.channel,
            earlier.c.user_id == inbox.c.user_id,
            earlier.c.id < inbox.c.id,
        )
        .exists()
    )
    free = or_(inbox.c.claimed_until.is_(None), inbox.c.claimed_until <= now)
    query = (
        select(inbox)
        .where(inbox.c.status == "pending", free, first_of_conversation)
        .order_by(inbox.c.id)
        .limit(limit)
        # PostgreSQL: workers claiming at the same moment take different rows (SQLite has
        # one writer at a time and ignores this).
        .with_for_update(skip_locked=True, of=inbox)
    )
    claimed = []
    for row in conn.execute(query).all():
        # Another worker may have claimed it since the read: only one UPDATE matches.
        taken = conn.execute(
            update(inbox)
            .where(inbox.c.id == row.id, inbox.c.status == "pending", free)
            .values(claimed_until=until)
        )
        if taken.rowcount == 1:
            claimed.append(_inbox_item(row))
    return claimed


def _claim_outbox(conn: Connection, now: datetime, limit: int, until: datetime) -> list[OutboxItem]:
    due = and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
    query = (
        select(outbox)
        .where(due, _first_pending())
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )
    claimed = []
    for row in conn.execute(query).all():
        taken = conn.execute(
            update(outbox).where(outbox.c.id == row.id, due).values(next_attempt_at=until)
        )
        if taken.rowcount == 1:
            claimed.append(_outbox_item(row))
    return claimed


def _first_pending() -> Any:
    """No earlier pending message to the same recipient exists."""
    earlier = outbox.alias("earlier")
    return ~(
        select(earlier.c.id)
        .where(
            earlier.c.status == "pending",
            earlier.c.channel == outbox.c.channel,
            earlier.c.recipient == outbox.c.recipient,
            earlier.c.id < outbox.c.id,
        )
        .exists()
    )


def _outbox_update(item_id: int, values: dict[str, Any]) -> Any:
    return update(outbox).where(outbox.c.id == item_id, outbox.c.status == "pending").values(values)


def _inbox_values(
    message: InboundMessage, recipient: str, thread: str | None, now: datetime
) -> dict[str, Any]:
    identity = message.verified_identity
    values: dict[str, Any] = {
        "channel": message.channel,
        "platform_id": message.message_id,
        "user_id": message.user_id,
        "text": message.text,
        "identity_kind": identity.kind if identity else None,
        "identity_value": identity.value if identity else None,
        "received_at": message.received_at,
        "recipient": recipient,
        "thread": thread,
    }
    for name, value in values.items():
        if isinstance(value, str):
            require_storable(name, value)
    return {**values, "status": "pending", "attempts": 0, "created_at": now}


def _outbox_values(message: OutboundMessage, now: datetime) -> dict[str, Any]:
    for name in ("channel", "recipient", "thread", "text", "inbound_id", "asks_for"):
        require_storable(name, getattr(message, name))
    for label in message.quick_replies:
        require_storable("quick reply", label)
    return {
        "channel": message.channel,
        "recipient": message.recipient,
        "thread": message.thread,
        "text": message.text,
        "quick_replies": list(message.quick_replies),
        "inbound_id": message.inbound_id,
        "asks_for": message.asks_for,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _inbox_item(row: Row[Any]) -> InboxItem:
    identity = None
    if row.identity_kind and row.identity_value:
        identity = Identity(row.identity_kind, row.identity_value)
    message = InboundMessage(
        channel=row.channel,
        user_id=row.user_id,
        text=row.text,
        message_id=row.platform_id,
        verified_identity=identity,
        received_at=row.received_at,
    )
    return InboxItem(
        id=row.id,
        message=message,
        recipient=row.recipient,
        thread=row.thread,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _outbox_item(row: Row[Any]) -> OutboxItem:
    message = OutboundMessage(
        channel=row.channel,
        recipient=row.recipient,
        text=row.text,
        quick_replies=tuple(str(label) for label in (row.quick_replies or ())),
        thread=row.thread,
        inbound_id=row.inbound_id,
        asks_for=row.asks_for,
    )
    return OutboxItem(
        id=row.id,
        message=message,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
    )


def _insert_if_new(dialect: str) -> Any:
    return (
        dialect_insert(inbox, dialect)
        .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
        .returning(inbox.c.id)
    )


def _accept(conn: Connection, values: dict[str, Any]) -> bool:
    return conn.execute(_insert_if_new(conn.dialect.name), values).first() is not None


def _finish(conn: Connection, item_id: int, rows: list[dict[str, Any]], now: datetime) -> bool:
    done = conn.execute(
        update(inbox)
        .where(inbox.c.id == item_id, inbox.c.status == "pending")
        .values(
            status="done",
            processed_at=now,
            text="",
            identity_value=None,
            last_error=None,
            claimed_until=None,
        )
    )
    if done.rowcount != 1:
        return False  # finished already (another worker, or a retry after a crash)
    if rows:
        conn.execute(insert(outbox), rows)
    return True


def _fail(
    conn: Connection, item_id: int, error: str, rows: list[dict[str, Any]], now: datetime
) -> None:
    failed = conn.execute(
        update(inbox)
        .where(inbox.c.id == item_id, inbox.c.status == "pending")
        .values(
            status="failed",
            attempts=inbox.c.attempts + 1,
            last_error=error,
            processed_at=now,
            claimed_until=None,
        )
    )
    if failed.rowcount == 1 and rows:
        conn.execute(insert(outbox), rows)


def _fetch(conn: Connection, query: Any) -> Sequence[Row[Any]]:
    return conn.execute(query).all()


def _execute(conn: Connection, statement: Any) -> None:
    conn.execute(statement)
