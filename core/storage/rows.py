"""Domain values to table rows and back: sessions, turns (with their model calls) and handoffs.

Every text is checked before it is written (``core/storage/checks.py``), so a value the
database cannot store is refused with a clear error instead of failing inside the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy.engine import Row

from core.ports import HandoffRecord, TurnRecord
from core.session import DialogueState, Session
from core.storage.checks import require_storable as _require_storable
from core.types import Attributes, ModelCall

__all__ = [
    "handoff_from_row",
    "handoff_values",
    "session_from_row",
    "session_values",
    "turn_from_row",
    "turn_values",
]

_SESSION_TEXT_FIELDS = (
    "conversation_id",
    "channel",
    "user_id",
    "intent",
    "awaiting",
    "verified_customer",
)
_SLOT_NAMES = frozenset(f.name for f in fields(Attributes))


def _require_storable_mapping(name: str, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        _require_storable(f"{name} key", key)
        _require_storable(f"{name}[{key!r}]", value)


def session_values(session: Session) -> dict[str, Any]:
    """The columns a save writes, after checking every text can be stored."""
    slots = session.slots.as_dict()
    for name in _SESSION_TEXT_FIELDS:
        _require_storable(name, getattr(session, name))
    _require_storable_mapping("slots", slots)
    return {
        "state": str(session.state),
        "intent": session.intent,
        "slots": slots,
        "awaiting": session.awaiting,
        "clarify_count": session.clarify_count,
        "verified_customer": session.verified_customer,
        "verified_at": session.verified_at,
        "failed_verifications": session.failed_verifications,
        "locked_until": session.locked_until,
        "offered": list(session.offered),
    }


def session_from_row(row: Row[Any]) -> Session:
    """The ``Session`` a ``sessions`` row holds (unknown slot names are dropped)."""
    slots = {k: str(v) for k, v in (row.slots or {}).items() if k in _SLOT_NAMES and v is not None}
    return Session(
        conversation_id=row.conversation_id,
        channel=row.channel,
        user_id=row.user_id,
        state=DialogueState(row.state),
        intent=row.intent,
        slots=Attributes(**slots),
        awaiting=row.awaiting,
        clarify_count=row.clarify_count,
        verified_customer=row.verified_customer,
        verified_at=row.verified_at,
        failed_verifications=row.failed_verifications,
        locked_until=row.locked_until,
        offered=tuple(str(label) for label in (row.offered or ())),
        version=row.version,
    )


def turn_values(record: TurnRecord) -> dict[str, Any]:
    """The columns of a ``turns`` row, after checking every text can be stored."""
    for name in ("conversation_id", "channel", "user_id", "direction", "text", "corrected_text"):
        _require_storable(name, getattr(record, name))
    for name in ("intent", "state", "outcome", "message_id"):
        _require_storable(name, getattr(record, name))
    _require_storable_mapping("attributes", record.attributes)
    return {
        "conversation_id": record.conversation_id,
        "channel": record.channel,
        "user_id": record.user_id,
        "direction": record.direction,
        "text": record.text,
        "corrected_text": record.corrected_text,
        "intent": record.intent,
        "confidence": record.confidence,
        "attributes": dict(record.attributes),
        "state": record.state,
        "outcome": record.outcome,
        "latency_ms": record.latency_ms,
        "message_id": record.message_id,
        "created_at": record.created_at,
        "quick_replies": list(record.quick_replies),
        "feedback": record.feedback,
        "model_calls": [_call_values(call) for call in record.model_calls],
    }


def _call_values(call: ModelCall) -> dict[str, Any]:
    _require_storable("model", call.model)
    return {
        "purpose": call.purpose,
        "model": call.model,
        "tokens_in": call.tokens_in,
        "tokens_out": call.tokens_out,
        "latency_ms": round(call.latency_ms, 3),
        "outcome": call.outcome,
    }


def handoff_values(record: HandoffRecord) -> dict[str, Any]:
    """The columns of a ``handoffs`` row, after checking every text can be stored."""
    for name in ("conversation_id", "channel", "user_id", "reason", "last_message"):
        _require_storable(name, getattr(record, name))
    return {
        "conversation_id": record.conversation_id,
        "channel": record.channel,
        "user_id": record.user_id,
        "reason": record.reason,
        "last_message": record.last_message,
        "created_at": record.created_at,
    }


def handoff_from_row(row: Row[Any]) -> HandoffRecord:
    """The ``HandoffRecord`` a ``handoffs`` row holds."""
    return HandoffRecord(
        conversation_id=row.conversation_id,
        channel=row.channel,
        user_id=row.user_id,
        reason=row.reason,
        last_message=row.last_message,
        created_at=row.created_at,
    )


def turn_from_row(row: Row[Any]) -> TurnRecord:
    """The ``TurnRecord`` a ``turns`` row holds."""
    return TurnRecord(
        conversation_id=row.conversation_id,
        channel=row.channel,
        user_id=row.user_id,
        direction=row.direction,
        text=row.text,
        corrected_text=row.corrected_text,
        intent=row.intent,
        confidence=row.confidence,
        attributes={str(k): str(v) for k, v in (row.attributes or {}).items()},
        state=row.state,
        outcome=row.outcome,
        latency_ms=row.latency_ms,
        message_id=row.message_id,
        created_at=row.created_at,
        quick_replies=tuple(str(label) for label in (row.quick_replies or ())),
        feedback=row.feedback,
        model_calls=tuple(_call_from_value(value) for value in (row.model_calls or ())),
    )


def _call_from_value(value: Any) -> ModelCall:
    return ModelCall(
        purpose=str(value["purpose"]),
        model=str(value["model"]),
        tokens_in=int(value["tokens_in"]),
        tokens_out=int(value["tokens_out"]),
        latency_ms=float(value["latency_ms"]),
        outcome=str(value["outcome"]),
    )
