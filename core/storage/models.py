"""The intent model versions of the conversation database (see ``core.learning.registry``).

Each operation is a function of a ``Connection`` run in one transaction by the store's runner,
like the rest of the store. Listing versions never reads the artifacts (megabytes each); the
active version is one row, so switching it is one upsert that every server sees at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import Row

from core.errors import StorageError
from core.learning.evaluation import EvaluationReport
from core.learning.registry import ModelVersion
from core.storage.checks import require_storable
from core.storage.runner import dialect_insert
from core.storage.schema import model_active, model_versions

__all__ = ["ModelVersions"]

T = TypeVar("T")

_ACTIVE_ROW = 1
_SUMMARY = tuple(c for c in model_versions.c if c.name != "artifact")


class ModelVersions:
    """The model-version methods of ``SQLConversationStore`` (it provides ``_run``)."""

    async def _run(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def add_model_version(
        self, version: ModelVersion, artifact: bytes, *, activate: bool
    ) -> ModelVersion:
        """Store a new version (its ``number`` is ignored and assigned here) with its artifact;
        when ``activate``, make it the active version in the same transaction."""
        for name in ("status", "reason", "fingerprint", "sha256"):
            require_storable(name, getattr(version, name))
        values = {
            "status": version.status,
            "reason": version.reason,
            "fingerprint": version.fingerprint,
            "training_examples": version.training_examples,
            "accepted_examples": version.accepted_examples,
            "metrics": version.report.to_json(),
            "sha256": version.sha256,
            "size": version.size,
            "artifact": artifact,
            "created_at": version.created_at,
        }
        number = await self._run(
            "store a model version", _add_version, values, activate, version.created_at
        )
        return replace(version, number=number)

    async def model_versions(self) -> list[ModelVersion]:
        """Every stored version, oldest first (without artifacts)."""
        query = select(*_SUMMARY).order_by(model_versions.c.id)
        rows = await self._run("list the model versions", _fetch, query)
        return [_version_from_row(row) for row in rows]

    async def model_version(self, number: int) -> ModelVersion | None:
        """Version ``number`` (without its artifact), or ``None``."""
        query = select(*_SUMMARY).where(model_versions.c.id == number)
        rows = await self._run("read a model version", _fetch, query)
        return _version_from_row(rows[0]) if rows else None

    async def model_artifact(self, number: int) -> bytes | None:
        """The serialized model of version ``number``, or ``None``."""
        query = select(model_versions.c.artifact).where(model_versions.c.id == number)
        rows = await self._run("read a model artifact", _fetch, query)
        return bytes(rows[0].artifact) if rows else None

    async def active_model_number(self) -> int | None:
        """The number of the active version; ``None`` when none was ever activated."""
        query = select(model_active.c.version_id).where(model_active.c.id == _ACTIVE_ROW)
        rows = await self._run("read the active model version", _fetch, query)
        return int(rows[0].version_id) if rows else None

    async def activate_model_version(self, number: int, *, at: datetime) -> None:
        """Make version ``number`` the active one; ``StorageError`` if there is no such version."""
        await self._run("activate a model version", _activate_existing, number, at)


def _fetch(conn: Connection, query: Any) -> Sequence[Row[Any]]:
    return conn.execute(query).all()


def _add_version(conn: Connection, values: dict[str, Any], activate: bool, at: datetime) -> int:
    key = conn.execute(insert(model_versions).values(values)).inserted_primary_key
    assert key is not None  # a single-row INSERT always has one
    number = int(key[0])
    if activate:
        _activate(conn, number, at)
    return number


def _activate_existing(conn: Connection, number: int, at: datetime) -> None:
    exists = conn.execute(select(model_versions.c.id).where(model_versions.c.id == number)).first()
    if exists is None:
        raise StorageError(f"there is no model version v{number}")
    _activate(conn, number, at)


def _activate(conn: Connection, number: int, at: datetime) -> None:
    statement = dialect_insert(model_active, conn.dialect.name).values(
        id=_ACTIVE_ROW, version_id=number, updated_at=at
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[model_active.c.id],
            set_={"version_id": number, "updated_at": at},
        )
    )


def _version_from_row(row: Row[Any]) -> ModelVersion:
    return ModelVersion(
        number=int(row.id),
        status=str(row.status),
        reason=str(row.reason),
        created_at=row.created_at,
        fingerprint=str(row.fingerprint),
        training_examples=int(row.training_examples),
        accepted_examples=int(row.accepted_examples),
        report=EvaluationReport.from_json(row.metrics),
        sha256=str(row.sha256),
        size=int(row.size),
    )
