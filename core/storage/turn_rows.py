"""Reading turn-log rows back into ``TurnRecord`` values (shared by the store and the
learning loop's readers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from core.ports import TurnRecord
from core.types import ModelCall

__all__ = ["turn_from_row"]


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
