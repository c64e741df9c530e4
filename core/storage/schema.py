"""The conversation database's tables, as SQLAlchemy Core metadata.

Core rather than the ORM: each call is one or two statements, and the turn budget is a few
milliseconds, so the store builds statements itself and converts rows to the frozen dataclasses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "UTCDateTime",
    "conversations",
    "handoffs",
    "inbox",
    "metadata",
    "model_active",
    "model_versions",
    "outbox",
    "turns",
    "verification_failures",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC and always read back aware in UTC.

    SQLite has no time zones: SQLAlchemy stores the wall-clock digits and drops the offset, so
    values are converted to UTC before writing and tagged UTC when read. Naive datetimes are
    refused: the project has one clock (``core.types.utcnow``) and a naive value is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"expected a datetime column value, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", String, primary_key=True),
    Column("channel", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("state", String, nullable=False),
    Column("intent", String),
    Column("slots", JSON, nullable=False),
    Column("awaiting", String),
    Column("clarify_count", Integer, nullable=False),
    Column("verified_customer", String),
    Column("verified_at", UTCDateTime),
    Column("failed_verifications", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("offered", JSON, nullable=False, default=list),
    # A fresh token per save: how a batched write tells which of its rows it won.
    Column("write_id", String),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # One conversation per channel user: a second first-save for the same user must fail.
    UniqueConstraint("channel", "user_id", name="uq_conversations_channel_user"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String, nullable=False, index=True),
    Column("channel", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("direction", String, nullable=False),
    Column("text", Text, nullable=False),
    Column("corrected_text", Text),
    Column("intent", String),
    Column("confidence", Float),
    Column("attributes", JSON, nullable=False),
    Column("state", String),
    Column("outcome", String),
    Column("latency_ms", Float),
    Column("message_id", String),
    Column("quick_replies", JSON, nullable=False, default=list),
    Column("feedback", String),
    # The language-model calls of the turn (on its inbound row): purpose, model, tokens, time.
    Column("model_calls", JSON, default=list),  # nullable: added to older databases
    Column("created_at", UTCDateTime, nullable=False, index=True),
    # When the row was changed after it was logged (a customer's rating), so that mining reads
    # its conversation again; set by every UPDATE of the row. Nullable: added to older databases.
    Column("updated_at", UTCDateTime, onupdate=lambda: datetime.now(UTC), index=True),
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("last_message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Index("ix_handoffs_conversation_id", "conversation_id"),
)


# Failed order verifications across all conversations, per subject ("order:1003", or
# "email:<sha256 prefix>"): what the lockouts that new conversations cannot reset count.
verification_failures = Table(
    "verification_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_verification_failures_subject_time", "subject", "created_at"),
)


# Inbound platform messages, written before the webhook is acknowledged and answered afterwards.
# (channel, platform_id) is unique: a delivery the platform retries is stored once. The text is
# cleared once the message is processed (the turn log keeps it, redacted when configured).
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("platform_id", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("text", Text, nullable=False),
    Column("identity_kind", String),
    Column("identity_value", String),
    Column("received_at", UTCDateTime, nullable=False),
    Column("recipient", String, nullable=False),
    Column("thread", String),
    Column("status", String, nullable=False),  # pending, done, failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("claimed_until", UTCDateTime),  # a worker is processing it until then
    Column("created_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    UniqueConstraint("channel", "platform_id", name="uq_inbox_channel_platform_id"),
    Index("ix_inbox_status_id", "status", "id"),
    Index("ix_inbox_conversation", "channel", "user_id", "status", "id"),
)

# Messages to send, with their retry state. The text of a sent message is cleared. A worker
# claims a message by moving its next_attempt_at past the time the send may take.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("thread", String),
    Column("text", Text, nullable=False),
    Column("quick_replies", JSON, nullable=False, default=list),
    Column("inbound_id", String),
    Column("asks_for", String),
    Column("status", String, nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_outbox_status_due", "status", "next_attempt_at"),
    Index("ix_outbox_recipient", "channel", "recipient", "status", "id"),
)


# Intent model versions (core/learning/registry.py): the serialized model with its sha256, its
# metrics on the evaluation set (JSON), the training-set fingerprint and counts, and whether the
# promotion rule passed it ("promoted") or refused it ("rejected", with the reason).
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("fingerprint", String, nullable=False),
    Column("training_examples", Integer, nullable=False),
    Column("accepted_examples", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("sha256", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The active model version: one row (id 1), changed in one statement, so every server reading
# it sees either the old or the new version.
model_active = Table(
    "model_active",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version_id", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


# -- the learning loop (core.learning) ---------------------------------------------------------

# Candidate training examples mined from the turn log: placeholder text only, never raw
# personal data. ``key`` is a hash of the normalised text: a text is stored once, whatever
# conversation it is mined from again (this is also what makes mining idempotent).
learning_candidates = Table(
    "learning_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("intent", String, nullable=False),
    Column("score", Float, nullable=False),
    Column("status", String, nullable=False),  # pending, accepted, rejected
    Column("conversation_id", String, nullable=False),
    Column("failed_turn_ids", JSON, nullable=False),
    Column("success_turn_id", Integer, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("succeeded_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reviewed_at", UTCDateTime),
    UniqueConstraint("key", name="uq_learning_candidates_key"),
    Index("ix_learning_candidates_status", "status", "id"),
)

# One row per `shopbot learn mine` run: the turn log was mined up to ``through_turn_id``, so
# the next run reads only conversations with newer messages — and again those held back as
# still going on (a message at or after ``held_from``) or rated since ``started_at``
# (core.learning.mining.MiningMark; both nullable: added to older databases).
learning_runs = Table(
    "learning_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("through_turn_id", Integer, nullable=False),
    Column("conversations", Integer, nullable=False),
    Column("found", Integer, nullable=False),
    Column("stored", Integer, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("held_from", UTCDateTime),
)

__all__ += ["learning_candidates", "learning_runs"]
