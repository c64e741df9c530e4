"""The dispatcher: answers what channels put in the inbox and delivers the outbox.

A webhook calls :meth:`Dispatcher.submit` (the message is then durable) and acknowledges at once.
Two background tasks do the rest:

* the inbox worker runs each pending message through the engine — one conversation's messages
  strictly in order, a few conversations at a time — and, in one transaction, marks it done and
  queues its replies;
* the outbox worker sends due messages through their channel's sender, one message per
  recipient at a time (so they arrive in order), retrying rate limits after the platform's
  ``retry_after`` and other transient failures with exponential backoff, and giving up into a
  failed row, an error log line and a metric.

Both start with what is pending, which is how a message acknowledged before a crash is answered
after the restart. Several processes may share one database: a worker claims each message for a
while (a lease) before working on it, so no message is processed or sent twice at once, and a
claim left by a crashed process lapses. Delivery is at least once: a crash while a send is in
flight resends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from core.delivery import (
    Capabilities,
    ChannelSender,
    DeliveryObserver,
    DeliveryStore,
    InboxItem,
    OutboxItem,
    outbound_messages,
)
from core.engine import Engine
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited
from core.types import InboundMessage, Reply, utcnow

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

_BATCH = 100  # rows read per round: bounds memory however long the queue
_UNKNOWN_PLATFORM = Capabilities(max_chars=100_000)  # no sender: the send fails anyway
_INBOX_ATTEMPTS = 3  # an inbound message that keeps failing (a bug) is given up after this
_INBOX_LEASE = timedelta(minutes=2)  # far longer than a turn takes, even with a slow model
_OUTBOX_LEASE_MARGIN = timedelta(seconds=30)  # added to the send timeout


class Dispatcher:
    """Owns the inbox and outbox workers; ``start()`` and ``stop()`` them with the app."""

    def __init__(
        self,
        engine: Engine,
        store: DeliveryStore,
        senders: Mapping[str, ChannelSender],
        *,
        metrics: DeliveryObserver,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 6,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        send_timeout: float = 30.0,
        concurrency: int = 4,
        poll_interval: float = 30.0,
        apology: str | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._senders = dict(senders)
        self._metrics = metrics
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._send_timeout = send_timeout
        self._concurrency = concurrency
        self._poll_interval = poll_interval  # also picks up rows another process queued
        self._apology = apology  # sent when a message cannot be processed at all
        self._inbox_wake = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._claimed_inbox: set[int] = set()  # claimed by this dispatcher, not yet settled
        self._claimed_outbox: set[int] = set()

    async def start(self) -> None:
        """Start both workers; each first works through what is pending. Idempotent."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._loop(self._inbox_round, self._inbox_wait, self._inbox_wake)),
            asyncio.create_task(
                self._loop(self._outbox_round, self._outbox_wait, self._outbox_wake)
            ),
        ]

    async def stop(self) -> None:
        """Stop both workers. Unfinished messages stay pending, and are given back at once for
        the next start or another worker (when the database allows)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        inbox, self._claimed_inbox = sorted(self._claimed_inbox), set()
        outbox, self._claimed_outbox = sorted(self._claimed_outbox), set()
        try:
            await self._store.release_inbox(inbox)
            await self._store.release_outbox(outbox, now=self._clock())
        except Exception:  # the claims lapse on their own
            log.warning("could not release %d claimed messages", len(inbox) + len(outbox))

    async def submit(
        self, message: InboundMessage, *, recipient: str, thread: str | None = None
    ) -> bool:
        """Store ``message`` (``message_id`` = the platform's id) to be answered at ``recipient``
        and wake the inbox worker; ``False`` for a delivery already received. Raises
        ``StorageError`` when it could not be stored (the webhook should then fail, so that the
        platform retries)."""
        new = await self._store.accept(message, recipient=recipient, thread=thread)
        if new:
            self._inbox_wake.set()
        return new

    def wake(self) -> None:
        """Look at the inbox and the outbox now (e.g. after rows were added from elsewhere)."""
        self._inbox_wake.set()
        self._outbox_wake.set()

    # -- the loop both workers share -------------------------------------------------------------
    async def _loop(
        self,
        work: Callable[[], Awaitable[bool]],
        idle_wait: Callable[[], Awaitable[float]],
        wake: asyncio.Event,
    ) -> None:
        """Run rounds while there is work; otherwise sleep until woken or the next due time."""
        failures = 0
        while True:
            wake.clear()
            try:
                busy = await work()
                failures = 0
                timeout = 0.0 if busy else await idle_wait()
            except Exception:  # the database is down: wait, then try again
                failures += 1
                log.exception("delivery worker failed; retrying")
                timeout = self._backoff(failures)
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)

    def _backoff(self, attempts: int) -> float:
        return float(min(self._max_delay, self._base_delay * 2 ** max(0, attempts - 1)))

    # -- inbox -------------------------------------------------------------------------------
    async def _inbox_wait(self) -> float:
        return self._poll_interval

    async def _inbox_round(self) -> bool:
        """Process one batch of pending messages (one per conversation); whether there was any."""
        claim = self._store.claim_inbox(self._clock(), _BATCH, lease=_INBOX_LEASE)
        items = await _keep_claims(claim, self._claimed_inbox)
        if not items:
            return False
        limit = asyncio.Semaphore(self._concurrency)

        async def process(item: InboxItem) -> bool:
            async with limit:
                done = await self._process(item)
            self._claimed_inbox.discard(item.id)  # settled (a cancelled one is released on stop)
            return done

        outcomes = await asyncio.gather(*(process(item) for item in items))
        if not all(outcomes):  # give a failing message a moment before its retry
            await asyncio.sleep(min(self._base_delay, self._poll_interval))
        return True

    async def _process(self, item: InboxItem) -> bool:
        try:
            # A message processed before a crash is answered from the turn log, not redone.
            result = await self._engine.handle(item.message)
        except Exception as exc:
            await self._inbox_failed(item, exc)
            return False
        channel = item.message.channel
        replies = outbound_messages(
            result.replies,
            self._capabilities(channel),
            channel=channel,
            recipient=item.recipient,
            thread=item.thread,
            inbound_id=item.message.message_id,
            asks_for=result.awaiting,
        )
        if await self._store.finish_inbox(item.id, replies, now=self._clock()):
            self._outbox_wake.set()
        return True

    def _capabilities(self, channel: str) -> Capabilities:
        sender = self._senders.get(channel)
        return sender.capabilities if sender else _UNKNOWN_PLATFORM

    async def _inbox_failed(self, item: InboxItem, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if item.attempts + 1 < _INBOX_ATTEMPTS:
            log.warning(
                "could not process %s message %s; will retry",
                item.message.channel,
                item.id,
                exc_info=exc,
            )
            await self._store.retry_inbox(item.id, error)
            return
        channel = item.message.channel
        log.error("gave up processing %s message %s", channel, item.id, exc_info=exc)
        sorry = [] if self._apology is None else [Reply(self._apology)]
        capabilities = self._capabilities(channel)
        replies = outbound_messages(
            sorry,
            capabilities,
            channel=channel,
            recipient=item.recipient,
            thread=item.thread,
            inbound_id=item.message.message_id,
        )
        await self._store.fail_inbox(item.id, error, now=self._clock(), replies=replies)
        self._metrics.count_inbound_failure(channel)
        if replies:
            self._outbox_wake.set()

    # -- outbox ------------------------------------------------------------------------------
    async def _outbox_wait(self) -> float:
        due = await self._store.next_outbox_due()
        if due is None:
            return self._poll_interval
        seconds = (due - self._clock()).total_seconds()
        return min(self._poll_interval, max(seconds, 0.0))

    async def _outbox_round(self) -> bool:
        """Send one batch of due messages (one per recipient); whether there was any."""
        lease = timedelta(seconds=self._send_timeout) + _OUTBOX_LEASE_MARGIN
        claim = self._store.claim_outbox(self._clock(), _BATCH, lease=lease)
        items = await _keep_claims(claim, self._claimed_outbox)
        if not items:
            return False
        limit = asyncio.Semaphore(self._concurrency)

        async def send(item: OutboxItem) -> None:
            async with limit:
                await self._send(item)
            self._claimed_outbox.discard(item.id)

        await asyncio.gather(*(send(item) for item in items))
        return True

    async def _send(self, item: OutboxItem) -> None:
        channel = item.message.channel
        sender = self._senders.get(channel)
        if sender is None:
            await self._give_up(item, "no_sender", f"no sender for channel {channel!r}")
            return
        try:
            await asyncio.wait_for(sender.send(item.message), self._send_timeout)
        except ChannelAuthError as exc:
            await self._give_up(item, "auth", _describe(exc))
        except ChannelRateLimited as exc:
            await self._retry(item, "rate_limited", _describe(exc), exc.retry_after)
        except (ChannelError, TimeoutError) as exc:
            await self._retry(item, "unavailable", _describe(exc), None)
        except Exception as exc:  # a bug in a sender: retried like an outage, logged in full
            log.exception("%s sender failed on message %s", channel, item.id)
            await self._retry(item, "unavailable", _describe(exc), None)
        else:
            await self._store.mark_sent(item.id, now=self._clock())
            self._metrics.count_outbound_sent(channel)

    async def _retry(
        self, item: OutboxItem, reason: str, error: str, retry_after: float | None
    ) -> None:
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            await self._give_up(item, reason, f"{error} (after {attempts} attempts)")
            return
        delay = self._backoff(attempts) if retry_after is None else max(0.0, retry_after)
        log.info(
            "%s message %s: %s; retrying in %.1f s", item.message.channel, item.id, error, delay
        )
        await self._store.retry_later(item.id, self._clock() + timedelta(seconds=delay), error)

    async def _give_up(self, item: OutboxItem, reason: str, error: str) -> None:
        channel = item.message.channel
        log.error("gave up sending %s message %s (%s): %s", channel, item.id, reason, error)
        await self._store.mark_failed(item.id, error, now=self._clock())
        self._metrics.count_outbound_failure(channel, reason)


_Claimed = TypeVar("_Claimed", InboxItem, OutboxItem)


async def _keep_claims(claim: Awaitable[list[_Claimed]], claimed: set[int]) -> list[_Claimed]:
    """Run a claim and note what it claimed in ``claimed`` — even when the worker is stopped
    while the claim is being written, so that ``stop()`` can give those messages back."""
    task = asyncio.ensure_future(claim)
    try:
        items = await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            claimed.update(item.id for item in await task)
        raise
    claimed.update(item.id for item in items)
    return items


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
