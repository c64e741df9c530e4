"""What every channel relies on to deliver reliably: outbound messages, senders, inbox and outbox.

A channel's webhook writes the platform's message to a durable inbox (keyed by the platform's
own id, so a redelivery is recognised) and acknowledges at once; the dispatcher
(``core.dispatch``) answers it later and queues the replies in a durable outbox, which it sends
through the channel's :class:`ChannelSender`, retrying what the platform asks to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core.options import numbered_text
from core.text import split_message
from core.types import InboundMessage, Reply

__all__ = [
    "Capabilities",
    "ChannelSender",
    "DeliveryObserver",
    "DeliveryStore",
    "Inbox",
    "InboxItem",
    "OutboundMessage",
    "OutboxItem",
    "outbound_messages",
]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to send on a platform.

    ``recipient`` is the platform's address (a Telegram chat id, a phone number, a Slack
    channel); ``thread`` a Slack thread ts, else ``None``; ``inbound_id`` the platform id of the
    message this answers, when it answers one.
    """

    channel: str
    recipient: str
    text: str
    quick_replies: tuple[str, ...] = ()
    thread: str | None = None
    inbound_id: str | None = None
    asks_for: str | None = None
    """What the bot asks for in this message (``"email"``), when it asks for something."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can show: the longest message it takes, and whether it has buttons
    for quick replies (without them, quick replies become numbered options)."""

    max_chars: int
    buttons: bool = True


def outbound_messages(
    replies: Sequence[Reply],
    capabilities: Capabilities,
    *,
    channel: str,
    recipient: str,
    thread: str | None = None,
    inbound_id: str | None = None,
    asks_for: str | None = None,
) -> list[OutboundMessage]:
    """The engine's replies as the messages to send on a platform with ``capabilities``:
    quick replies as buttons or numbered options, long texts split at the platform's limit
    (the buttons, and what the turn ``asks_for``, go with the very last part)."""
    messages: list[OutboundMessage] = []
    for reply in replies:
        text = reply.text if capabilities.buttons else numbered_text(reply)
        buttons = reply.quick_replies if capabilities.buttons else ()
        parts = split_message(text, capabilities.max_chars)
        for index, part in enumerate(parts, 1):
            messages.append(
                OutboundMessage(
                    channel=channel,
                    recipient=recipient,
                    text=part,
                    quick_replies=buttons if index == len(parts) else (),
                    thread=thread,
                    inbound_id=inbound_id,
                )
            )
    if messages and asks_for:
        messages[-1] = replace(messages[-1], asks_for=asks_for)
    return messages


class Inbox(Protocol):
    """Where a channel's webhook puts what a platform delivered (the ``Dispatcher``)."""

    async def submit(
        self, message: InboundMessage, *, recipient: str, thread: str | None = None
    ) -> bool:
        """Store ``message`` durably (``message_id`` = the platform's id) to be answered at
        ``recipient``; ``False`` for a delivery already received. Raises ``StorageError`` when
        it could not be stored: the webhook must then fail so that the platform retries."""
        ...


class ChannelSender(Protocol):
    """Sends messages on one platform; implemented by each channel around its SDK.

    ``send`` maps the SDK's failures to the error tree: ``ChannelRateLimited(retry_after)`` for
    HTTP 429, ``ChannelAuthError`` for permanent refusals (other 4xx), ``ChannelTimeout`` or
    ``ChannelError`` for failures worth retrying (5xx, timeouts, connection errors).
    """

    channel: str
    capabilities: Capabilities

    async def send(self, message: OutboundMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class InboxItem:
    """An inbound message in the inbox; ``message.message_id`` is the platform's id."""

    id: int
    message: InboundMessage
    recipient: str
    thread: str | None
    status: str  # "pending", "done" or "failed"
    attempts: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message in the outbox, with its delivery state."""

    id: int
    message: OutboundMessage
    status: str  # "pending", "sent" or "failed"
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None


class DeliveryStore(Protocol):
    """The durable inbox and outbox (``SQLConversationStore`` implements it)."""

    async def accept(
        self,
        message: InboundMessage,
        *,
        recipient: str,
        thread: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Store an inbound message; ``False`` when its platform id is already in the inbox."""
        ...

    async def claim_inbox(self, now: datetime, limit: int, *, lease: timedelta) -> list[InboxItem]:
        """Claim unprocessed messages for ``lease``, oldest first, at most one per
        conversation and none another worker holds."""
        ...

    async def release_inbox(self, item_ids: Sequence[int]) -> None:
        """Give claimed, unfinished messages back."""
        ...

    async def finish_inbox(
        self, item_id: int, replies: Sequence[OutboundMessage], *, now: datetime
    ) -> bool:
        """Mark a pending message done and queue its replies, in one transaction; ``False``
        (and nothing queued) when it was not pending any more."""
        ...

    async def retry_inbox(self, item_id: int, error: str) -> None: ...

    async def fail_inbox(
        self,
        item_id: int,
        error: str,
        *,
        now: datetime,
        replies: Sequence[OutboundMessage] = (),
    ) -> None:
        """Give up on a message, queueing ``replies`` (an apology) in the same transaction."""
        ...

    async def claim_outbox(
        self, now: datetime, limit: int, *, lease: timedelta
    ) -> list[OutboxItem]:
        """Claim pending messages due by ``now`` for ``lease``, each the oldest pending one
        of its recipient and none another worker holds."""
        ...

    async def release_outbox(self, item_ids: Sequence[int], *, now: datetime) -> None:
        """Make claimed, unsent messages due again."""
        ...

    async def next_outbox_due(self) -> datetime | None:
        """When the next message that ``claim_outbox`` could return is due, or ``None``."""
        ...

    async def mark_sent(self, item_id: int, *, now: datetime) -> None: ...

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None: ...

    async def mark_failed(self, item_id: int, error: str, *, now: datetime) -> None: ...


class DeliveryObserver(Protocol):
    """Counts what was delivered and what was given up (the metrics implement it)."""

    def count_outbound_sent(self, channel: str) -> None: ...

    def count_outbound_failure(self, channel: str, reason: str) -> None: ...

    def count_inbound_failure(self, channel: str) -> None: ...
