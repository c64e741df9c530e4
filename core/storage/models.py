"""The intent model versions of the conversation database (see ``core.learning.registry``).

Each operation is a function of a ``Connection`` run in one transaction by the store's runner,
like the rest of the store. Listing versions never reads the artifacts (megabytes each); the
active version is one row, so switching it is one upsert that every server sees at once.

A trained version replaces the active one by compare-and-set: in the transaction that stores it,
the pointer moves only if it still names the version the new one was compared with (one
conditional UPDATE, or an INSERT that does nothing when a pointer exists). Both are atomic on
SQLite and on PostgreSQL under READ COMMITTED, so two ``learn train`` runs at once, or a
``model rollback`` during training, cannot be silently overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row

from core.errors import StorageError
from core.learning.evaluation import EvaluationReport
from core.learning.registry import REJECTED, SUPERSEDED, ModelArtifactError, ModelVersion
from core.storage.checks import require_storable
from core.storage.runner import dialect_insert
from core.storage.schema import model_active, model_versions

__all__ = ["ModelVersions"]

T = TypeVar("T")

_ACTIVE_ROW = 1
_CLAIMED = 0  # the pointer's value while the first version is being stored (never committed)
_SUMMARY = tuple(c for c in model_versions.c if c.name != "artifact")


class ModelVersions:
    """The model-version methods of ``SQLConversationStore`` (it provides ``_run``)."""

    async def _run(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def add_model_version(
        self, version: ModelVersion, artifact: bytes, *, activate: bool, compared_with: int | None
    ) -> ModelVersion:
        """Store a new version (its ``number`` is ignored and assigned here) with its artifact.
        When ``activate``, it becomes the active version in the same transaction if the active
        one is still ``compared_with`` (``None``: no version active); otherwise it is stored not
        active, as rejected, with the reason. The stored version."""
        number, reason = await self._run(
            "store a model version",
            _add_version,
            _values(version, artifact),
            activate,
            compared_with,
            version.created_at,
        )
        if reason is None:
            return replace(version, number=number)
        return replace(version, number=number, status=REJECTED, reason=reason)

    async def add_first_model_version(
        self, version: ModelVersion, artifact: bytes
    ) -> ModelVersion | None:
        """Store ``version`` and make it active, in one transaction, only if no version is
        active yet; ``None`` (nothing stored) when one is."""
        number = await self._run(
            "store the first model version",
            _add_first_version,
            _values(version, artifact),
            version.created_at,
        )
        return None if number is None else replace(version, number=number)

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


def _values(version: ModelVersion, artifact: bytes) -> dict[str, Any]:
    for name in ("status", "reason", "fingerprint", "sha256"):
        require_storable(name, getattr(version, name))
    return {
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


def _insert_version(conn: Connection, values: dict[str, Any]) -> int:
    key = conn.execute(insert(model_versions).values(values)).inserted_primary_key
    assert key is not None  # a single-row INSERT always has one
    return int(key[0])


def _add_version(
    conn: Connection,
    values: dict[str, Any],
    activate: bool,
    compared_with: int | None,
    at: datetime,
) -> tuple[int, str | None]:
    """The new version's number, and the reason it was rejected when the active version
    changed since it was compared (``None`` otherwise)."""
    number = _insert_version(conn, values)
    if not activate or _replace_active(conn, compared_with, number, at):
        return number, None
    current = conn.execute(
        select(model_active.c.version_id).where(model_active.c.id == _ACTIVE_ROW)
    ).scalar_one()
    reason = f"v{current} {SUPERSEDED}"
    conn.execute(
        update(model_versions)
        .where(model_versions.c.id == number)
        .values(status=REJECTED, reason=reason)
    )
    return number, reason


def _replace_active(conn: Connection, expected: int | None, number: int, at: datetime) -> bool:
    """Point at version ``number`` if the pointer still names ``expected``; whether it did."""
    if expected is None:
        return _claim_pointer(conn, number, at)
    moved = conn.execute(
        update(model_active)
        .where(model_active.c.id == _ACTIVE_ROW, model_active.c.version_id == expected)
        .values(version_id=number, updated_at=at)
    )
    return moved.rowcount == 1


def _claim_pointer(conn: Connection, number: int, at: datetime) -> bool:
    """Create the pointer (naming ``number``) unless one exists; whether it did."""
    statement = dialect_insert(model_active, conn.dialect.name).values(
        id=_ACTIVE_ROW, version_id=number, updated_at=at
    )
    created = conn.execute(statement.on_conflict_do_nothing(index_elements=[model_active.c.id]))
    return created.rowcount == 1


def _add_first_version(conn: Connection, values: dict[str, Any], at: datetime) -> int | None:
    # The pointer is claimed before the version is inserted, so that a run losing the race
    # (its INSERT waits for the winner's, then does nothing) has used up no version number.
    if not _claim_pointer(conn, _CLAIMED, at):
        return None
    number = _insert_version(conn, values)
    conn.execute(
        update(model_active).where(model_active.c.id == _ACTIVE_ROW).values(version_id=number)
    )
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
        report=_report(row),
        sha256=str(row.sha256),
        size=int(row.size),
    )


def _report(row: Row[Any]) -> EvaluationReport:
    try:
        return EvaluationReport.from_json(row.metrics)
    except ValueError as exc:
        raise ModelArtifactError(
            f"model v{row.id}: its stored metrics are damaged ({exc}); restore the "
            "model_versions row from a backup, or train again"
        ) from exc
